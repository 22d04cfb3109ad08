// Errors page: a workflow's failed attempts grouped by similar message (the server
// groups in SQL), biggest groups first, each with its count, the tasks it hit, when,
// and a few examples with their full message.
import { get, listen } from "../lib/api.js";
import { h, replace, throttle } from "../lib/dom.js";
import { ago, dateTime, int } from "../lib/format.js";
import { emptyState, notice, section } from "../lib/widgets.js";
import { workflowHeader } from "./header.js";

export async function render(view) {
  const id = Number(view.params[0]);
  const header = workflowHeader(id, "errors");
  const summary = h("div", { class: "page-summary" });
  const body = h("div", { class: "error-groups" }, h("div", { class: "loading" }, "Loading…"));
  view.main.append(header.el, summary, body);

  get(`workflows/${id}`, {}, view.signal).then(
    (wf) => {
      header.update(wf);
      view.setTitle(`Errors · ${wf.name || `workflow ${id}`}`);
    },
    () => {},
  );

  async function load() {
    let data;
    try {
      data = await get(`workflows/${id}/errors`, { limit: 100 }, view.signal);
    } catch (err) {
      if (!view.signal.aborted) replace(body, notice("error", err.message));
      return;
    }
    replace(
      summary,
      data.total === 0
        ? null
        : h(
            "p",
            {},
            h("strong", {}, int(data.total)),
            ` failed attempt${data.total === 1 ? "" : "s"} in `,
            h("strong", {}, int(data.group_count)),
            ` group${data.group_count === 1 ? "" : "s"}`,
            data.group_count > data.groups.length
              ? ` (the ${data.groups.length} largest shown)`
              : "",
            ".",
          ),
    );
    if (data.groups.length === 0) {
      replace(body, section("Errors", null, emptyState("No failed attempts. ✓")));
      return;
    }
    replace(
      body,
      data.groups.map((g) => group(g, data.total)),
    );
  }

  await load();
  const refresh = throttle(load, 3000);
  view.signal.addEventListener("abort", () => refresh.cancel());
  view.setLive("connecting");
  listen(
    `workflows/${id}/events`,
    {
      open: () => view.setLive("on"),
      workflow: (e) => header.setStatus(e.status),
      tasks: (e) => {
        if (["ERROR_RECOVERABLE", "ADJUSTING_RESOURCES", "ERROR_FATAL"].includes(e.status))
          refresh();
      },
    },
    view.signal,
  ).addEventListener("error", () => view.setLive("connecting"));
}

function group(g, total) {
  const share = total ? (g.count / total) * 100 : 0;
  return h(
    "section",
    { class: "card error-group" },
    h(
      "div",
      { class: "error-head" },
      h(
        "div",
        { class: "error-count" },
        h("span", { class: "num big" }, int(g.count)),
        h("span", { class: "muted small" }, g.count === 1 ? "attempt" : "attempts"),
      ),
      h(
        "div",
        { class: "error-main" },
        h("div", { class: "signature mono" }, g.signature),
        h(
          "div",
          { class: "error-meta" },
          h("span", { class: "chip" }, g.template),
          g.kind ? h("span", { class: "chip chip-kind" }, g.kind) : null,
          h("span", {}, `${int(g.tasks)} task${g.tasks === 1 ? "" : "s"}`),
          h("span", { title: dateTime(g.first_at) }, `first ${ago(g.first_at)}`),
          h("span", { title: dateTime(g.last_at) }, `last ${ago(g.last_at)}`),
        ),
        h(
          "div",
          { class: "share" },
          h("span", { class: "share-fill", style: { width: `${share}%` } }),
        ),
      ),
    ),
    h(
      "div",
      { class: "examples" },
      g.examples.map((e, i) =>
        h(
          "details",
          { class: "example", open: i === 0 },
          h(
            "summary",
            {},
            h("a", { href: `/tasks/${e.task}`, class: "mono" }, e.task_name),
            h("span", { class: "muted" }, `instance ${e.instance}`),
            e.exit_code === null ? null : h("span", { class: "chip" }, `exit ${e.exit_code}`),
            e.node ? h("span", { class: "muted" }, e.node) : null,
            h("span", { class: "muted push-right", title: dateTime(e.time) }, ago(e.time)),
          ),
          h("pre", { class: "code code-error" }, e.message),
        ),
      ),
    ),
  );
}
