// Pieces shared by the pages: status badges, status bars with legends, stat cards,
// pagination, notices.
import { h } from "./dom.js";
import { BAR_ORDER, int, pct, statusColor, statusLabel } from "./format.js";

export function badge(status, props = {}) {
  return h(
    "span",
    { class: `badge status-${status}`, title: status, ...props },
    h("span", { class: "dot", style: { background: statusColor(status) } }),
    status,
  );
}

/** A horizontal bar of task counts by status; each segment has a tooltip. */
export function statusBar(counts, total, props = {}) {
  const bar = h("div", { class: `status-bar ${props.class ?? ""}`, role: "img" });
  const parts = [];
  for (const status of BAR_ORDER) {
    const n = counts[status] ?? 0;
    if (n === 0) continue;
    parts.push(`${status} ${int(n)}`);
    bar.append(
      h("span", {
        class: "seg",
        title: `${status}: ${int(n)} (${pct(n, total)})`,
        style: { width: `${(n / total) * 100}%`, background: statusColor(status) },
      }),
    );
  }
  bar.setAttribute("aria-label", total ? parts.join(", ") : "no tasks");
  if (!total) bar.classList.add("empty");
  return bar;
}

/** Status counts as a legend: every status with at least one task (or all with `all`). */
export function legend(counts, { all = false } = {}) {
  return h(
    "ul",
    { class: "legend" },
    BAR_ORDER.filter((s) => all || (counts[s] ?? 0) > 0).map((s) =>
      h(
        "li",
        { title: s, dataset: { status: s } },
        h("span", { class: "swatch", style: { background: statusColor(s) } }),
        h("span", { class: "legend-label" }, statusLabel(s)),
        h("span", { class: "legend-count num" }, int(counts[s] ?? 0)),
      ),
    ),
  );
}

export function stat(label, value, note, props = {}) {
  return h(
    "div",
    { class: "stat", ...props },
    h("div", { class: "stat-label" }, label),
    h("div", { class: "stat-value num" }, value),
    note ? h("div", { class: "stat-note" }, note) : null,
  );
}

/** "1–50 of 1,234" with previous/next buttons. */
export function pager({ total, limit, offset }, go) {
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total);
  return h(
    "div",
    { class: "pager" },
    h("span", { class: "pager-range num" }, `${int(from)}–${int(to)} of ${int(total)}`),
    h(
      "button",
      {
        class: "btn btn-small",
        disabled: offset === 0,
        onclick: () => go(Math.max(0, offset - limit)),
      },
      "‹ Previous",
    ),
    h(
      "button",
      { class: "btn btn-small", disabled: to >= total, onclick: () => go(offset + limit) },
      "Next ›",
    ),
  );
}

export function notice(kind, text) {
  return h(
    "div",
    { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    text,
  );
}

export function emptyState(text) {
  return h("div", { class: "empty-state" }, text);
}

/** A section with a title line (and optional tools on its right). */
export function section(title, tools, ...body) {
  return h(
    "section",
    { class: "card" },
    h(
      "div",
      { class: "card-head" },
      h("h2", {}, title),
      tools ? h("div", { class: "card-tools" }, tools) : null,
    ),
    ...body,
  );
}

/** Key/value rows. */
export function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === "" ? "–" : v)]),
  );
}

/**
 * A scrollable table: `columns` are header labels, or [label, class] pairs; `body` is a
 * tbody element or an array of rows.
 */
export function dataTable(className, columns, body) {
  const head = columns.map((c) =>
    Array.isArray(c) ? h("th", { class: c[1] }, c[0]) : h("th", {}, c),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: `table ${className}` },
      h("thead", {}, h("tr", {}, head)),
      Array.isArray(body) ? h("tbody", {}, body) : body,
    ),
  );
}
