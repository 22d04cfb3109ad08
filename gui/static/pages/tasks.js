// Tasks page: one workflow's tasks, filtered by status, template and name, a page at a
// time (the server counts and slices; a 100,000-task workflow ships one page).
import { get, listen } from "../lib/api.js";
import { debounce, h, replace, throttle } from "../lib/dom.js";
import { ago, dateTime, int, TASK_STATUSES } from "../lib/format.js";
import { badge, dataTable, emptyState, notice, pager, section } from "../lib/widgets.js";
import { workflowHeader } from "./header.js";

export async function render(view) {
  const id = Number(view.params[0]);
  const q = view.query;
  const state = {
    status: (q.get("status") ?? "").toUpperCase(),
    template: q.get("template") ?? "",
    name: q.get("name") ?? "",
    arg: q.get("arg") ?? "",
    limit: Number(q.get("limit")) || 50,
    offset: Number(q.get("offset")) || 0,
  };
  const header = workflowHeader(id, "tasks");
  const statusSelect = h(
    "select",
    { class: "input", id: "f-status", "aria-label": "status" },
    h("option", { value: "" }, "Any status"),
    TASK_STATUSES.map((s) => h("option", { value: s }, s)),
  );
  statusSelect.value = state.status;
  const templateSelect = h(
    "select",
    { class: "input", id: "f-template", "aria-label": "template" },
    h("option", { value: "" }, "All templates"),
  );
  if (state.template) templateSelect.append(h("option", { value: state.template }, state.template));
  templateSelect.value = state.template;
  const nameInput = h("input", {
    class: "input",
    id: "f-name",
    type: "search",
    placeholder: "Task name contains…",
    value: state.name,
    "aria-label": "task name",
  });
  // An arg's value, as NAME=VALUE (location=7): only complete pairs are sent.
  const argInput = h("input", {
    class: "input",
    id: "f-arg",
    type: "search",
    placeholder: "arg=value, e.g. location=7",
    value: state.arg,
    "aria-label": "arg value",
  });
  const csvLink = h(
    "a",
    { class: "btn", id: "tasks-csv", download: "", target: "_blank" },
    "Export CSV",
  );
  const sizeSelect = h(
    "select",
    { class: "input", "aria-label": "rows per page" },
    [50, 100, 200, 500].map((n) => h("option", { value: n }, `${n} per page`)),
  );
  sizeSelect.value = String(state.limit);
  const body = h("div", {}, h("div", { class: "loading" }, "Loading…"));
  const count = h("span", { class: "muted", id: "tasks-count" });

  view.main.append(
    header.el,
    h(
      "div",
      { class: "filters" },
      h("label", { class: "field" }, h("span", {}, "Status"), statusSelect),
      h("label", { class: "field" }, h("span", {}, "Template"), templateSelect),
      h("label", { class: "field field-grow" }, h("span", {}, "Name"), nameInput),
      h("label", { class: "field" }, h("span", {}, "Arg"), argInput),
      h("label", { class: "field" }, h("span", {}, "Page"), sizeSelect),
      h("div", { class: "field" }, h("span", {}, "\u00a0"), csvLink),
    ),
    section("Tasks", count, body),
  );

  get(`workflows/${id}`, {}, view.signal).then(
    (wf) => {
      header.update(wf);
      view.setTitle(`Tasks · ${wf.name || `workflow ${id}`}`);
    },
    () => {},
  );

  async function load() {
    view.setQuery({
      ...state,
      limit: state.limit === 50 ? "" : state.limit,
      offset: state.offset || "",
    });
    const filter = { status: state.status, template: state.template, name: state.name };
    if (/^[^=]+=.*$/.test(state.arg)) filter.arg = state.arg;
    // The export takes the same filter: every matching task, not just this page.
    csvLink.href = `/api/workflows/${id}/tasks.csv?${new URLSearchParams(
      Object.entries(filter).filter(([, v]) => v),
    )}`;
    let data;
    try {
      data = await get(
        `workflows/${id}/tasks`,
        { ...filter, limit: state.limit, offset: state.offset },
        view.signal,
      );
    } catch (err) {
      if (!view.signal.aborted) replace(body, notice("error", err.message));
      return;
    }
    count.textContent = `${int(data.total)} task${data.total === 1 ? "" : "s"}`;
    const known = new Set([...templateSelect.options].map((o) => o.value));
    for (const t of data.templates)
      if (!known.has(t)) templateSelect.append(h("option", { value: t }, t));
    templateSelect.value = state.template;
    if (data.tasks.length === 0) {
      replace(body, emptyState("No task matches these filters."));
      return;
    }
    const now = Date.now();
    replace(
      body,
      dataTable(
        "tasks-table",
        [["ID", "num"], "Name", "Template", "Status", ["Attempts", "num"], "Last change"],
        data.tasks.map((t) =>
          h(
            "tr",
            { dataset: { task: String(t.id) } },
            h("td", { class: "num muted" }, h("a", { href: `/tasks/${t.id}` }, String(t.id))),
            h(
              "td",
              { class: "col-name" },
              h("a", { href: `/tasks/${t.id}`, class: "strong mono" }, t.name),
            ),
            h("td", {}, t.template),
            h("td", {}, badge(t.status)),
            h("td", { class: "num" }, `${t.attempts} / ${t.max_attempts}`),
            h("td", { title: dateTime(t.status_at) }, ago(t.status_at, now)),
          ),
        ),
      ),
      pager(data, (offset) => {
        state.offset = offset;
        load();
      }),
    );
    body.dataset.total = String(data.total);
    body.dataset.loaded = "1";
  }

  const reload = () => {
    state.offset = 0;
    load();
  };
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    reload();
  });
  templateSelect.addEventListener("change", () => {
    state.template = templateSelect.value;
    reload();
  });
  argInput.addEventListener(
    "input",
    debounce(() => {
      state.arg = argInput.value.trim();
      reload();
    }, 250),
  );
  sizeSelect.addEventListener("change", () => {
    state.limit = Number(sizeSelect.value);
    reload();
  });
  nameInput.addEventListener(
    "input",
    debounce(() => {
      state.name = nameInput.value.trim();
      reload();
    }, 250),
  );

  await load();

  const refresh = throttle(load, 2000);
  view.signal.addEventListener("abort", () => refresh.cancel());
  view.setLive("connecting");
  listen(
    `workflows/${id}/events`,
    {
      open: () => view.setLive("on"),
      workflow: (e) => header.setStatus(e.status),
      tasks: () => refresh(),
    },
    view.signal,
  ).addEventListener("error", () => view.setLive("connecting"));
}
