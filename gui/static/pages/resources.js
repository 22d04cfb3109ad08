// Resources page: per template, what finished attempts used against what they asked for,
// as distributions, and the request to make next time.
import { get } from "../lib/api.js";
import { histogram, scatter } from "../lib/charts.js";
import { h, replace } from "../lib/dom.js";
import { bytes, duration, int } from "../lib/format.js";
import { emptyState, notice } from "../lib/widgets.js";
import { workflowHeader } from "./header.js";

export async function render(view) {
  const id = Number(view.params[0]);
  const header = workflowHeader(id, "resources");
  const body = h("div", { class: "resources" }, h("div", { class: "loading" }, "Loading…"));
  view.main.append(
    header.el,
    h(
      "p",
      { class: "page-summary muted" },
      "What DONE attempts used, per template, against what they requested. The suggestion is what to request next time: enough for nearly every attempt, with headroom.",
    ),
    body,
  );
  get(`workflows/${id}`, {}, view.signal).then(
    (wf) => {
      header.update(wf);
      view.setTitle(`Resources · ${wf.name || `workflow ${id}`}`);
    },
    () => {},
  );
  let data;
  let usage;
  try {
    [data, usage] = await Promise.all([
      get(`workflows/${id}/resources`, {}, view.signal),
      get(`workflows/${id}/usage`, {}, view.signal),
    ]);
  } catch (err) {
    if (!view.signal.aborted) replace(body, notice("error", err.message));
    return;
  }
  const pointsOf = new Map(usage.templates.map((u) => [u.template, u]));
  if (data.templates.length === 0) {
    replace(body, h("section", { class: "card" }, emptyState("No attempt has finished yet.")));
    return;
  }
  replace(
    body,
    data.templates.map((t) =>
      h(
        "section",
        { class: "card resource-card", dataset: { template: t.template } },
        h(
          "div",
          { class: "card-head" },
          h("h2", {}, t.template),
          h("div", { class: "card-tools muted" }, `${int(t.attempts)} finished attempts`),
        ),
        h(
          "div",
          { class: "grid-2" },
          panel("Memory", t.memory, bytes, t.done),
          panel("Runtime", t.runtime, duration, t.done),
        ),
        usageScatter(pointsOf.get(t.template)),
      ),
    ),
  );
}

function panel(label, d, fmt, done) {
  return h(
    "div",
    { class: "resource-panel", dataset: { resource: label.toLowerCase() } },
    h(
      "div",
      { class: "resource-head" },
      h("h3", {}, label),
      h(
        "div",
        { class: "suggestion", title: d.basis },
        h("span", { class: "muted" }, "Suggested request "),
        h(
          "strong",
          { class: "num suggested-value" },
          d.suggested === null ? "–" : fmt(d.suggested),
        ),
      ),
    ),
    overRequest(d, fmt),
    d.samples > 0 ? histogram(d, fmt, { label }) : emptyState("No DONE attempt measured yet."),
    h(
      "table",
      { class: "table table-compact" },
      h(
        "tbody",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Used"),
          h("td", {}, cell("p50", d.used.p50, fmt)),
          h("td", {}, cell("p90", d.used.p90, fmt)),
          h("td", {}, cell("p95", d.used.p95, fmt)),
          h("td", {}, cell("max", d.used.max, fmt)),
        ),
        h(
          "tr",
          {},
          h("th", {}, "Requested"),
          h("td", {}, cell("min", d.requested.min, fmt)),
          h("td", {}, cell("median", d.requested.median, fmt)),
          h("td", {}, cell("max", d.requested.max, fmt)),
          h(
            "td",
            {},
            d.killed > 0
              ? h("span", { class: "bad" }, `${int(d.killed)} killed`)
              : h("span", { class: "muted" }, "none killed"),
          ),
        ),
      ),
    ),
    h("div", { class: "muted small measured" }, measured(label, d, done)),
  );
}

function cell(name, value, fmt) {
  return [
    h("span", { class: "muted small" }, `${name} `),
    h("span", { class: "num" }, value === null ? "–" : fmt(value)),
  ];
}

/**
 * "7 of 10 DONE attempts measured": memory is sampled (every 250 ms on the local bridge,
 * each second on Slurm), so an attempt shorter than that has no memory figure.
 */
function measured(label, d, done) {
  const of = d.samples < done ? `${int(d.samples)} of ${int(done)}` : int(d.samples);
  const why =
    d.samples < done && label === "Memory"
      ? " (the others ended before their memory was first sampled)"
      : "";
  return `${of} DONE attempts measured${why} · suggestion: ${d.basis}`;
}

/**
 * Says how far the request is from the use, when it is far either way. Compared with
 * what the DONE attempts asked for (the largest), not with failed attempts' requests;
 * and only when the suggestion is smaller: a request cannot go below the round amount
 * the suggestion is rounded to (a minute, 256 MiB), so "N× the use" beside a suggestion
 * equal to the request would say two contrary things.
 */
function overRequest(d, fmt) {
  const used = d.used.max;
  const asked = d.done_requested.max ?? d.requested.median;
  if (!used || !asked || d.samples === 0) return null;
  if (d.killed > 0) {
    return h(
      "div",
      { class: "callout callout-bad over-request" },
      `${int(d.killed)} attempts were killed for exceeding their request (up to ${fmt(d.requested.max)}).`,
    );
  }
  const ratio = asked / used;
  if (ratio >= 4 && d.suggested !== null && d.suggested < asked) {
    return h(
      "div",
      { class: "callout over-request" },
      `Requests are ${ratio >= 100 ? int(ratio) : ratio.toFixed(0)}× the most any DONE attempt used (${fmt(used)} of ${fmt(asked)}): ${fmt(d.suggested)} would do.`,
    );
  }
  if (used / asked > 0.9) {
    return h(
      "div",
      { class: "callout callout-warn over-request" },
      `Attempts used up to ${Math.round((used / asked) * 100)}% of the request: close to the limit.`,
    );
  }
  return null;
}

/** Memory against runtime, one point per DONE attempt measured for both. */
function usageScatter(u) {
  if (!u || u.points.length === 0) return null;
  return h(
    "div",
    { class: "resource-scatter" },
    h("h3", {}, "Memory vs runtime"),
    scatter(u.points, { label: `${u.template}: memory against runtime of DONE attempts` }),
    h(
      "div",
      { class: "muted small" },
      u.points.length < u.measured
        ? `${int(u.points.length)} of ${int(u.measured)} attempts shown (an even sample)`
        : `${int(u.measured)} attempts`,
    ),
  );
}
