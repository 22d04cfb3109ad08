// Timeline page: a workflow's attempts as a Gantt chart, one row per attempt in the order
// they were queued: a pale bar while it waited in the queue (queued → started), a bar
// coloured by its status while it ran (started → ended, or now while it runs). Under it,
// the history of the workflow's concurrency limits.
import { get } from "../lib/api.js";
import { h, replace, s } from "../lib/dom.js";
import { dateTime, duration, int, statusColor } from "../lib/format.js";
import { emptyState, notice, section } from "../lib/widgets.js";
import { workflowHeader } from "./header.js";

const W = 1000;
const LABEL = 220;
const ROW = 16;
const TOP = 22;

export async function render(view) {
  const id = Number(view.params[0]);
  const header = workflowHeader(id, "timeline");
  const chart = h("div", { class: "timeline" }, h("div", { class: "loading" }, "Loading…"));
  const limits = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  const count = h("span", { class: "muted", id: "timeline-count" });
  view.main.append(
    header.el,
    section("Timeline", count, chart),
    section("Limit history", null, limits),
  );
  get(`workflows/${id}`, {}, view.signal).then(
    (wf) => {
      header.update(wf);
      view.setTitle(`Timeline · ${wf.name || `workflow ${id}`}`);
    },
    () => {},
  );
  const [timeline, history] = await Promise.all([
    get(`workflows/${id}/timeline`, {}, view.signal).catch((err) => err),
    get(`workflows/${id}/limits`, {}, view.signal).catch((err) => err),
  ]);
  if (view.signal.aborted) return;
  if (timeline instanceof Error) replace(chart, notice("error", timeline.message));
  else {
    count.textContent =
      timeline.total > timeline.bars.length
        ? `first ${int(timeline.bars.length)} of ${int(timeline.total)} attempts`
        : `${int(timeline.total)} attempts`;
    replace(
      chart,
      timeline.bars.length === 0 ? emptyState("No attempt yet.") : gantt(timeline.bars),
    );
  }
  if (history instanceof Error) replace(limits, notice("error", history.message));
  else replace(limits, limitTable(history.changes));
}

function gantt(bars, now = Date.now()) {
  const ms = (iso) => (iso ? Date.parse(iso) : null);
  const t0 = Math.min(...bars.map((b) => ms(b.queued_at)));
  const t1 = Math.max(t0 + 1, ...bars.map((b) => ms(b.ended_at) ?? now));
  const inner = W - LABEL - 10;
  const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * inner;
  const height = TOP + bars.length * ROW + 4;
  const svg = s("svg", {
    class: "gantt",
    viewBox: `0 0 ${W} ${height}`,
    width: "100%",
    role: "img",
    "aria-label": "attempts over time",
    dataset: { t0: new Date(t0).toISOString(), t1: new Date(t1).toISOString() },
  });
  svg.append(
    s("text", { x: LABEL, y: 12, class: "tick" }, dateTime(new Date(t0).toISOString())),
    s(
      "text",
      { x: W - 10, y: 12, class: "tick", "text-anchor": "end" },
      `+${duration((t1 - t0) / 1000)}`,
    ),
  );
  bars.forEach((b, n) => {
    const y = TOP + n * ROW;
    const queued = ms(b.queued_at);
    const started = ms(b.started_at);
    const end = ms(b.ended_at) ?? now;
    const row = s("g", { class: "gantt-row", dataset: { instance: String(b.instance) } });
    row.append(
      s(
        "text",
        { x: LABEL - 6, y: y + ROW - 5, class: "gantt-label", "text-anchor": "end" },
        `${b.task_name} #${b.instance}`,
      ),
    );
    const waitEnd = started ?? end;
    row.append(
      s(
        "rect",
        {
          class: "gantt-wait",
          x: x(queued),
          y: y + 3,
          width: Math.max(0.5, x(waitEnd) - x(queued)),
          height: ROW - 6,
          dataset: { start: b.queued_at, end: new Date(waitEnd).toISOString() },
        },
        s(
          "title",
          {},
          `queued ${dateTime(b.queued_at)}, waited ${duration((waitEnd - queued) / 1000)}`,
        ),
      ),
    );
    if (started !== null) {
      row.append(
        s(
          "rect",
          {
            class: "gantt-run",
            x: x(started),
            y: y + 1,
            width: Math.max(0.5, x(end) - x(started)),
            height: ROW - 2,
            fill: statusColor(b.status),
            dataset: {
              status: b.status,
              start: b.started_at,
              end: b.ended_at ?? "",
            },
          },
          s(
            "title",
            {},
            `${b.task_name} (${b.template}) ${b.status}: ${dateTime(b.started_at)} – ${b.ended_at ? dateTime(b.ended_at) : "running"}`,
          ),
        ),
      );
    }
    svg.append(row);
  });
  return svg;
}

function limitTable(changes) {
  if (changes.length === 0) return emptyState("No limit changed since the workflow was submitted.");
  const shown = (v) => (v === null ? "none" : v === 0 ? "0 (paused)" : String(v));
  return h(
    "table",
    { class: "table table-compact", id: "limit-history" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "When"),
        h("th", {}, "Limit of"),
        h("th", {}, "From"),
        h("th", {}, "To"),
      ),
    ),
    h(
      "tbody",
      {},
      changes.map((c) =>
        h(
          "tr",
          { dataset: { at: c.at } },
          h("td", {}, h("time", { datetime: c.at }, dateTime(c.at))),
          h("td", {}, c.template === null ? "the workflow" : `template ${c.template}`),
          h("td", { class: "num" }, shown(c.old_limit)),
          h("td", { class: "num" }, shown(c.new_limit)),
        ),
      ),
    ),
  );
}
