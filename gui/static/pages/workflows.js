// Workflows page: every workflow, newest first, filtered by user, name, status and date,
// with a status bar each. Live: a workflow's status event updates its row at once.
import { get, listen } from "../lib/api.js";
import { debounce, h, replace, throttle } from "../lib/dom.js";
import { ago, dateTime, int, pct, WORKFLOW_STATUSES } from "../lib/format.js";
import { badge, dataTable, emptyState, notice, pager, statusBar } from "../lib/widgets.js";

const PAGE = 50;

export async function render(view) {
  view.setTitle("Workflows");
  const q = view.query;
  const state = {
    user: q.get("user") ?? "",
    name: q.get("name") ?? "",
    status: q.get("status") ?? "",
    from: q.get("from") ?? "",
    to: q.get("to") ?? "",
    offset: Number(q.get("offset") ?? 0) || 0,
  };

  const userSelect = h(
    "select",
    { class: "input", id: "f-user", "aria-label": "user" },
    h("option", { value: "" }, "All users"),
  );
  const nameInput = h("input", {
    class: "input",
    id: "f-name",
    type: "search",
    placeholder: "Name contains…",
    value: state.name,
    "aria-label": "name",
  });
  const statusSelect = h(
    "select",
    { class: "input", id: "f-status", "aria-label": "status" },
    h("option", { value: "" }, "Any status"),
    WORKFLOW_STATUSES.map((s) => h("option", { value: s }, s)),
  );
  statusSelect.value = state.status;
  const fromInput = h("input", {
    class: "input",
    id: "f-from",
    type: "date",
    value: state.from,
    "aria-label": "from",
  });
  const toInput = h("input", {
    class: "input",
    id: "f-to",
    type: "date",
    value: state.to,
    "aria-label": "to",
  });
  const body = h("div", { class: "card" }, h("div", { class: "loading" }, "Loading…"));

  view.main.append(
    h("div", { class: "page-head" }, h("h1", {}, "Workflows")),
    h(
      "div",
      { class: "filters" },
      h("label", { class: "field" }, h("span", {}, "User"), userSelect),
      h("label", { class: "field field-grow" }, h("span", {}, "Name"), nameInput),
      h("label", { class: "field" }, h("span", {}, "Status"), statusSelect),
      h("label", { class: "field" }, h("span", {}, "Submitted from"), fromInput),
      h("label", { class: "field" }, h("span", {}, "to"), toInput),
      h(
        "button",
        {
          class: "btn btn-ghost",
          type: "button",
          onclick: () => {
            Object.assign(state, { user: "", name: "", status: "", from: "", to: "", offset: 0 });
            userSelect.value = "";
            nameInput.value = "";
            statusSelect.value = "";
            fromInput.value = "";
            toInput.value = "";
            load();
          },
        },
        "Clear",
      ),
    ),
    body,
  );

  const rowsById = new Map();

  const query = () => {
    // `to` is a day: include it whole.
    const to = state.to
      ? new Date(new Date(state.to).getTime() + 86_400_000).toISOString().slice(0, 10)
      : "";
    return {
      user: state.user,
      name: state.name,
      status: state.status,
      from: state.from,
      to,
      limit: PAGE,
      offset: state.offset,
    };
  };

  async function load() {
    view.setQuery({ ...state, offset: state.offset || "" });
    let data;
    try {
      data = await get("workflows", query(), view.signal);
    } catch (err) {
      if (!view.signal.aborted) replace(body, notice("error", err.message));
      return;
    }
    fillUsers(data.users);
    rowsById.clear();
    if (data.workflows.length === 0) {
      replace(
        body,
        emptyState(
          data.total === 0 && !Object.values(state).some(Boolean)
            ? "No workflows yet. Submit one with 'drover submit'."
            : "No workflow matches these filters.",
        ),
      );
      return;
    }
    const now = Date.now();
    const tbody = h("tbody");
    for (const w of data.workflows) {
      const statusCell = h("td", {}, badge(w.status));
      rowsById.set(w.id, statusCell);
      tbody.append(
        h(
          "tr",
          { dataset: { workflow: String(w.id) } },
          h("td", { class: "num muted" }, h("a", { href: `/workflows/${w.id}` }, `#${w.id}`)),
          h(
            "td",
            { class: "col-name" },
            h("a", { href: `/workflows/${w.id}`, class: "strong" }, w.name || `workflow ${w.id}`),
            h("div", { class: "muted small" }, w.tool),
          ),
          h("td", {}, w.user ?? "–"),
          statusCell,
          h(
            "td",
            { class: "col-bar" },
            statusBar(w.counts, w.total),
            h(
              "div",
              { class: "small muted" },
              `${int(w.counts.DONE)} / ${int(w.total)} done · ${pct(w.counts.DONE, w.total)}${limitNote(w)}`,
            ),
          ),
          h("td", { title: dateTime(w.created_at) }, ago(w.created_at, now)),
          h("td", { title: dateTime(w.status_at) }, ago(w.status_at, now)),
        ),
      );
    }
    replace(
      body,
      dataTable(
        "workflows-table",
        [["ID", "num"], "Name", "User", "Status", ["Tasks", "col-bar"], "Submitted", "Last change"],
        tbody,
      ),
      pager(data, (offset) => {
        state.offset = offset;
        load();
      }),
    );
  }

  function fillUsers(users) {
    const wanted = state.user;
    const known = new Set([...userSelect.options].map((o) => o.value));
    for (const u of users) if (!known.has(u)) userSelect.append(h("option", { value: u }, u));
    if (wanted && !known.has(wanted) && !users.includes(wanted))
      userSelect.append(h("option", { value: wanted }, wanted));
    userSelect.value = wanted;
  }

  const reload = () => {
    state.offset = 0;
    load();
  };
  userSelect.addEventListener("change", () => {
    state.user = userSelect.value;
    reload();
  });
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    reload();
  });
  fromInput.addEventListener("change", () => {
    state.from = fromInput.value;
    reload();
  });
  toInput.addEventListener("change", () => {
    state.to = toInput.value;
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

  const refresh = throttle(load, 3000);
  // Status events say when a workflow starts or ends; task progress of the rows shown is
  // re-read every few seconds while one of them is live.
  const poll = setInterval(() => {
    const live = [...rowsById.values()].some((cell) =>
      /QUEUED|RUNNING|REGISTERING/.test(cell.textContent),
    );
    if (live) refresh();
  }, 5000);
  view.signal.addEventListener("abort", () => {
    refresh.cancel();
    clearInterval(poll);
  });
  view.setLive("connecting");
  listen(
    "events",
    {
      open: () => view.setLive("on"),
      workflow: (e) => {
        const cell = rowsById.get(e.workflow_id);
        if (cell) replace(cell, badge(e.status));
        refresh();
      },
    },
    view.signal,
  ).addEventListener("error", () => view.setLive("connecting"));
}

/** An active limit, as the CLI's workflows list shows it: paused, or how many at once. */
const limitNote = (w) =>
  w.paused
    ? " · paused"
    : w.limit === null || w.limit === undefined
      ? ""
      : ` · limit ${int(w.limit)}`;
