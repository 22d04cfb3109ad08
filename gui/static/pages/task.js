// Task page: why a task is where it is. Its command, args and attributes, the resources
// of its next attempt, every instance (where it ran, requested vs used, exit code,
// stderr tail, log paths), its logs and environment for its owner (task-private.js), and
// its upstream and downstream tasks. Text from tasks is
// shown with textContent only (lib/dom.js): markup in stderr stays text.
import { get, listen, post } from "../lib/api.js";
import { h, replace, throttle } from "../lib/dom.js";
import { ago, bytes, dateTime, duration, int } from "../lib/format.js";
import { badge, emptyState, facts, notice, section } from "../lib/widgets.js";
import { privatePanel } from "./task-private.js";

export async function render(view) {
  const id = Number(view.params[0]);
  const root = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  view.main.append(root);
  // One panel for the page's life: moved into each re-render, not rebuilt.
  const priv = privatePanel(id, view.signal);

  async function load() {
    const t = await get(`tasks/${id}`, {}, view.signal);
    view.setTitle(`${t.name} · task ${t.id}`);
    replace(root, page(t, load, priv.el));
    return t;
  }
  const t = await load();

  const refresh = throttle(() => Promise.all([load(), priv.refresh()]).catch(() => {}), 1500);
  view.signal.addEventListener("abort", () => refresh.cancel());
  view.setLive("connecting");
  listen(
    `workflows/${t.workflow.id}/events`,
    {
      open: () => view.setLive("on"),
      tasks: (e) => {
        // Only our task matters; an event too big to list its ids might include it.
        if (!e.task_ids || e.task_ids.includes(id)) refresh();
      },
      workflow: () => refresh(),
    },
    view.signal,
  ).addEventListener("error", () => view.setLive("connecting"));
}

function page(t, reload, privateParts) {
  const feedback = h("div", { class: "feedback", "aria-live": "polite" });
  const recursive = h("input", { type: "checkbox", id: "set-recursive" });
  const setStatus = async (status, button) => {
    const what =
      status === "DONE"
        ? `Mark task ${t.id} DONE${recursive.checked ? " with its upstream tasks" : ""}?`
        : `Reset task ${t.id} to REGISTERING${recursive.checked ? " with its downstream tasks" : ""}?`;
    if (!confirm(what)) return;
    button.disabled = true;
    try {
      const a = await post(`tasks/${t.id}/status`, { status, recursive: recursive.checked });
      replace(
        feedback,
        notice("ok", `${int(a.task_ids?.length ?? 0)} task(s) set to ${a.status}.`),
      );
      reload().catch(() => {});
    } catch (err) {
      replace(feedback, notice("error", err.message));
    } finally {
      button.disabled = false;
    }
  };
  const doneButton = h("button", { class: "btn", type: "button" }, "Mark done");
  doneButton.addEventListener("click", () => setStatus("DONE", doneButton));
  const resetButton = h("button", { class: "btn", type: "button" }, "Reset");
  resetButton.addEventListener("click", () => setStatus("REGISTERING", resetButton));

  const r = t.resources;
  return h(
    "div",
    { class: "task-page" },
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "/" }, "Workflows"),
      h("span", { class: "sep" }, "/"),
      h("a", { href: `/workflows/${t.workflow.id}` }, t.workflow.name || `#${t.workflow.id}`),
      h("span", { class: "sep" }, "/"),
      h(
        "a",
        { href: `/workflows/${t.workflow.id}/tasks?template=${encodeURIComponent(t.template)}` },
        t.template,
      ),
      h("span", { class: "sep" }, "/"),
      h("span", {}, `task ${t.id}`),
    ),
    h(
      "div",
      { class: "wf-headline" },
      h(
        "div",
        { class: "wf-name" },
        h("h1", { class: "wf-title mono" }, t.name),
        badge(t.status, { class: "badge badge-big", id: "task-status" }),
      ),
      h(
        "div",
        { class: "wf-actions" },
        h(
          "label",
          {
            class: "check",
            title: "done: with its upstream tasks; reset: with its downstream tasks",
          },
          recursive,
          "recursive",
        ),
        doneButton,
        resetButton,
      ),
    ),
    h(
      "div",
      { class: "wf-meta" },
      h("span", {}, `task ${t.id}`),
      h("span", {}, `template ${t.template}`),
      h("span", {}, `attempt ${t.attempts} of ${t.max_attempts}`),
      h("span", { title: dateTime(t.status_at) }, `status since ${ago(t.status_at)}`),
    ),
    feedback,
    blocked(t),
    h(
      "div",
      { class: "grid-2" },
      section("Command", null, h("pre", { class: "code", id: "task-command" }, t.command)),
      section(
        "Next attempt",
        null,
        facts([
          ["Cluster", r.cluster],
          ["Queue", r.queue],
          ["Cores", r.cores === null ? null : String(r.cores)],
          ["Memory", bytes(r.memory_bytes)],
          ["Runtime", duration(r.runtime_seconds)],
          ["Project", r.project],
          ["Fallback queues", r.fallback_queues?.join(", ") ?? null],
        ]),
      ),
    ),
    h(
      "div",
      { class: "grid-2" },
      section("Args", null, kv(t.args, "task-args")),
      section("Attributes", null, kv(t.attributes, "task-attributes")),
    ),
    section(
      `Instances (${t.instances.length})`,
      null,
      t.instances.length === 0 ? emptyState("Not launched yet.") : instances(t.instances),
    ),
    privateParts,
    section(`Status history (${(t.audit ?? []).length})`, null, auditTrail(t.audit ?? [])),
    h(
      "div",
      { class: "grid-2" },
      section(
        `Upstream (${int(t.upstream.total)})`,
        null,
        neighbours(t.upstream, "No upstream tasks."),
      ),
      section(
        `Downstream (${int(t.downstream.total)})`,
        null,
        neighbours(t.downstream, "No downstream tasks."),
      ),
    ),
  );
}

function kv(obj, id) {
  const entries = Object.entries(obj ?? {});
  if (entries.length === 0) return emptyState("None.");
  return h(
    "table",
    { class: "table kv", id },
    h(
      "tbody",
      {},
      entries.map(([k, v]) =>
        h(
          "tr",
          {},
          h("th", { class: "mono" }, k),
          h("td", { class: "mono" }, typeof v === "string" ? v : JSON.stringify(v)),
        ),
      ),
    ),
  );
}

/** "used of requested" with a small gauge; red when the use went over. */
function usage(used, requested, fmt) {
  if (used === null && requested === null) return "–";
  const ratio = used !== null && requested ? used / requested : null;
  return h(
    "div",
    { class: "usage" },
    h("span", { class: "num" }, `${fmt(used)} / ${fmt(requested)}`),
    ratio === null
      ? null
      : h(
          "span",
          { class: "gauge", title: `${Math.round(ratio * 100)}% of the request` },
          h("span", {
            class: ratio > 1 ? "gauge-fill over" : ratio > 0.8 ? "gauge-fill high" : "gauge-fill",
            style: { width: `${Math.min(100, ratio * 100)}%` },
          }),
        ),
  );
}

function instances(list) {
  return h(
    "div",
    { class: "instances" },
    list
      .slice()
      .reverse()
      .map((i, n) =>
        h(
          "details",
          { class: "instance", open: n === 0, dataset: { instance: String(i.id) } },
          h(
            "summary",
            {},
            h("span", { class: "strong" }, `Instance ${i.id}`),
            badge(i.status),
            i.exit_code === null ? null : h("span", { class: "chip" }, `exit ${i.exit_code}`),
            i.error_kind ? h("span", { class: "chip" }, i.error_kind) : null,
            h("span", { class: "muted" }, i.node ?? "no node yet"),
            h(
              "span",
              { class: "muted push-right", title: dateTime(i.status_at) },
              ago(i.status_at),
            ),
          ),
          h(
            "div",
            { class: "instance-body" },
            facts([
              ["Distributor id", i.distributor_id],
              ["Node", i.node],
              ["Memory used / requested", usage(i.memory_used, i.memory_requested, bytes)],
              ["Runtime used / requested", usage(i.runtime_used, i.runtime_requested, duration)],
              ["Exit code", i.exit_code === null ? null : String(i.exit_code)],
              [
                "Queued",
                h("time", { datetime: i.queued_at, class: "queued" }, dateTime(i.queued_at)),
              ],
              [
                "Started",
                i.started_at
                  ? h("time", { datetime: i.started_at, class: "started" }, dateTime(i.started_at))
                  : null,
              ],
              [
                "Ended",
                i.ended_at
                  ? h("time", { datetime: i.ended_at, class: "ended" }, dateTime(i.ended_at))
                  : null,
              ],
              [
                "Queue wait",
                i.queue_wait_seconds === null
                  ? null
                  : h("span", { class: "queue-wait num" }, duration(i.queue_wait_seconds)),
              ],
              ["Stdout", i.stdout_path ? h("code", { class: "path" }, i.stdout_path) : null],
              ["Stderr", i.stderr_path ? h("code", { class: "path" }, i.stderr_path) : null],
            ]),
            i.error
              ? h(
                  "div",
                  {},
                  h("div", { class: "label" }, "Error and stderr tail"),
                  h("pre", { class: "code code-error stderr" }, i.error),
                )
              : null,
          ),
        ),
      ),
  );
}

function neighbours(group, empty) {
  if (group.total === 0) return emptyState(empty);
  return h(
    "div",
    {},
    h(
      "ul",
      { class: "neighbours" },
      group.tasks.map((n) =>
        h(
          "li",
          {},
          badge(n.status),
          h("a", { href: `/tasks/${n.id}`, class: "mono" }, n.name),
          h("span", { class: "muted small" }, n.template),
        ),
      ),
    ),
    group.total > group.tasks.length
      ? h("div", { class: "muted small" }, `and ${int(group.total - group.tasks.length)} more`)
      : null,
  );
}

/** Every status change of the task since it was bound, oldest first, with how long each lasted. */
function auditTrail(rows) {
  if (rows.length === 0) return emptyState("No status change since the task was bound.");
  return h(
    "table",
    { class: "table table-compact", id: "task-audit" },
    h("thead", {}, h("tr", {}, h("th", {}, "Status"), h("th", {}, "At"), h("th", {}, "For"))),
    h(
      "tbody",
      {},
      rows.map((r, n) => {
        const next = rows[n + 1];
        const lasted = next ? (Date.parse(next.at) - Date.parse(r.at)) / 1000 : null;
        return h(
          "tr",
          { dataset: { status: r.status, at: r.at } },
          h("td", {}, badge(r.status)),
          h("td", {}, h("time", { datetime: r.at }, dateTime(r.at))),
          h("td", { class: "num muted" }, lasted === null ? "" : duration(lasted)),
        );
      }),
    ),
  );
}

/** A REGISTERING task held back by failed upstream tasks says which. */
function blocked(t) {
  const b = t.blocked_by;
  if (!b || b.failed_total === 0) return null;
  return h(
    "div",
    { class: "callout callout-bad", id: "task-blocked" },
    `Blocked by ${b.failed_total === 1 ? "a failed upstream task" : `${int(b.failed_total)} failed upstream tasks`}: `,
    b.failed.map((u, n) => [
      n > 0 ? ", " : "",
      h("a", { href: `/tasks/${u.id}`, class: "mono" }, u.name),
      ` (${u.status})`,
    ]),
    b.failed_total > b.failed.length ? ", …" : "",
    ". Resume the workflow once they are fixed.",
  );
}
