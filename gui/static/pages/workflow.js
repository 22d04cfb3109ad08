// Workflow page: where a workflow stands. Counts per template come from one SQL aggregate
// (never the task rows), so a 100,000-task workflow opens as fast as a small one. Live:
// the bus's events move the status at once and trigger a re-read of the counts.
import { get, listen, post } from "../lib/api.js";
import { recolorTasks, taskDagSvg, templateDagSvg } from "../lib/dag.js";
import { h, replace, throttle } from "../lib/dom.js";
import { duration, int, pct, rate } from "../lib/format.js";
import { dataTable, emptyState, legend, notice, section, stat, statusBar } from "../lib/widgets.js";
import { workflowHeader } from "./header.js";

const REFRESH_MS = 1500;

export async function render(view) {
  const id = Number(view.params[0]);
  const header = workflowHeader(id, "overview");
  const stats = h("div", { class: "stats" });
  const progress = h("div", { class: "progress-body" });
  const limitInput = h("input", {
    type: "number",
    min: 0,
    class: "input input-narrow",
    id: "wf-limit",
    placeholder: "none",
    "aria-label": "workflow concurrency limit",
  });
  const limitNow = h("span", { class: "muted" });
  const limitFeedback = h("span", { class: "inline-feedback" });
  const templatesBody = h("tbody");
  const dagBox = h("div", { class: "dag-box" }, h("div", { class: "muted" }, "Loading the DAG…"));
  const taskDagBox = h("div", { class: "dag-box" });
  const taskDagCard = section(
    "Task DAG",
    h("span", { class: "muted" }, "click a task to open it"),
    taskDagBox,
  );
  taskDagCard.hidden = true;

  view.main.append(
    header.el,
    stats,
    section("Progress", null, progress),
    section(
      "Templates",
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (e) => {
            e.preventDefault();
            setLimit(null, limitInput, limitFeedback);
          },
        },
        h("label", { for: "wf-limit" }, "Workflow limit"),
        limitNow,
        limitInput,
        h("button", { class: "btn btn-small", type: "submit" }, "Set"),
        limitFeedback,
      ),
      dataTable(
        "templates-table",
        [
          "Template",
          ["Progress", "col-bar"],
          ["Done", "num"],
          ["Active", "num"],
          ["Retrying", "num"],
          ["Failed", "num"],
          ["Pending", "num"],
          ["Total", "num"],
          "Limit",
        ],
        templatesBody,
      ),
    ),
    section(
      "Template DAG",
      h("span", { class: "muted" }, "click a template to see its tasks"),
      dagBox,
    ),
    taskDagCard,
  );

  const rows = new Map();
  let overview = null;
  let dag = null;
  let taskSvg = null;
  let firstRender = true;

  async function setLimit(template, input, feedback) {
    const raw = input.value.trim();
    const limit = raw === "" ? null : Number(raw);
    if (limit !== null && (!Number.isInteger(limit) || limit < 0)) {
      replace(feedback, notice("error", "a whole number ≥ 0, or empty for no limit"));
      return;
    }
    replace(feedback, h("span", { class: "muted" }, "…"));
    try {
      await post(`workflows/${id}/concurrency`, template ? { limit, template } : { limit });
      replace(feedback, h("span", { class: "ok" }, "✓ set"));
      input.value = "";
      refresh();
    } catch (err) {
      replace(feedback, notice("error", err.message));
    }
  }

  function renderStats(wf) {
    const c = wf.counts;
    const active = c.QUEUED + c.INSTANTIATING + c.LAUNCHED + c.RUNNING;
    const retrying = c.ERROR_RECOVERABLE + c.ADJUSTING_RESOURCES;
    replace(
      stats,
      stat("Tasks", int(wf.total), `${int(wf.templates.length)} templates`, { id: "stat-total" }),
      stat("Done", int(c.DONE), pct(c.DONE, wf.total), { id: "stat-done" }),
      stat("Active", int(active), `${int(c.RUNNING)} running`, { id: "stat-active" }),
      stat("Retrying", int(retrying), null, { id: "stat-retrying" }),
      stat("Failed", int(c.ERROR_FATAL), null, {
        id: "stat-failed",
        class: c.ERROR_FATAL > 0 ? "stat stat-bad" : "stat",
      }),
      stat("Elapsed", duration(wf.elapsed_seconds), wf.run ? `run ${wf.run.id}` : null, {
        id: "stat-elapsed",
      }),
      stat("Rate", rate(wf.rate.recent_per_minute), `${rate(wf.rate.overall_per_minute)} overall`, {
        id: "stat-rate",
        title: `tasks DONE per minute over the last ${wf.rate.window_seconds / 60} min`,
      }),
      stat(
        "ETA",
        wf.rate.eta_seconds === null ? "–" : duration(wf.rate.eta_seconds),
        "at the recent rate",
        {
          id: "stat-eta",
        },
      ),
    );
    replace(
      progress,
      statusBar(c, wf.total, { class: "status-bar-big" }),
      legend(c),
      wf.error ? notice("error", wf.error) : null,
    );
    limitNow.textContent = limitText(wf.limit);
    limitInput.disabled = wf.status === "DONE" || wf.status === "ABORTED";
  }

  function renderTemplates(wf) {
    if (wf.templates.length === 0) {
      replace(templatesBody, h("tr", {}, h("td", { colspan: 9 }, emptyState("No templates yet."))));
      return;
    }
    for (const t of wf.templates) {
      let row = rows.get(t.array_id);
      if (!row) {
        const input = h("input", {
          type: "number",
          min: 0,
          class: "input input-narrow",
          placeholder: "none",
          "aria-label": `limit of ${t.name}`,
        });
        const feedback = h("span", { class: "inline-feedback" });
        row = {
          bar: h("td", { class: "col-bar" }),
          done: h("td", { class: "num" }),
          active: h("td", { class: "num" }),
          retrying: h("td", { class: "num" }),
          failed: h("td", { class: "num" }),
          pending: h("td", { class: "num" }),
          total: h("td", { class: "num" }),
          limit: h("span", { class: "muted limit-now" }),
        };
        const tr = h(
          "tr",
          { dataset: { template: t.name } },
          h(
            "td",
            {},
            h(
              "a",
              {
                href: `/workflows/${id}/tasks?template=${encodeURIComponent(t.name)}`,
                class: "strong",
              },
              t.name,
            ),
            h("div", { class: "cmd-preview", title: t.command }, t.command),
          ),
          row.bar,
          row.done,
          row.active,
          row.retrying,
          row.failed,
          row.pending,
          row.total,
          h(
            "td",
            {},
            h(
              "form",
              {
                class: "inline-form",
                onsubmit: (e) => {
                  e.preventDefault();
                  setLimit(t.name, input, feedback);
                },
              },
              row.limit,
              input,
              h("button", { class: "btn btn-small", type: "submit" }, "Set"),
              feedback,
            ),
          ),
        );
        rows.set(t.array_id, row);
        templatesBody.append(tr);
      }
      const c = t.counts;
      replace(row.bar, statusBar(c, t.total));
      row.done.textContent = `${int(c.DONE)} (${pct(c.DONE, t.total)})`;
      row.active.textContent = int(c.QUEUED + c.INSTANTIATING + c.LAUNCHED + c.RUNNING);
      row.retrying.textContent = int(c.ERROR_RECOVERABLE + c.ADJUSTING_RESOURCES);
      row.failed.textContent = int(c.ERROR_FATAL);
      row.failed.classList.toggle("bad", c.ERROR_FATAL > 0);
      row.pending.textContent = int(c.REGISTERING);
      row.total.textContent = int(t.total);
      row.limit.textContent = limitText(t.limit);
    }
  }

  function renderDag() {
    if (!overview || !dag) return;
    if (dag.templates.nodes.length === 0) {
      replace(dagBox, emptyState("No templates yet."));
    } else {
      replace(dagBox, templateDagSvg(overview.templates, dag.templates, { workflowId: id }));
    }
    if (dag.tasks) {
      taskDagCard.hidden = false;
      taskSvg = taskDagSvg(dag.tasks, { maxWidth: Math.max(600, taskDagBox.clientWidth || 1180) });
      replace(taskDagBox, taskSvg);
    }
  }

  function show(wf) {
    overview = wf;
    view.setTitle(wf.name || `Workflow ${id}`);
    header.update(wf);
    renderStats(wf);
    renderTemplates(wf);
    if (firstRender) {
      firstRender = false;
      // What the load-time test measures: navigation start to the counts on screen.
      document.body.dataset.countsRendered = String(Math.round(performance.now()));
      performance.mark("drover:counts-rendered");
    }
    renderDag();
  }

  const refresh = throttle(async () => {
    try {
      // The task DAG carries statuses: re-read it with the counts, shown together.
      const [wf, freshDag] = await Promise.all([
        get(`workflows/${id}`, {}, view.signal),
        dag?.tasks ? get(`workflows/${id}/dag`, {}, view.signal) : null,
      ]);
      if (freshDag) dag = freshDag;
      show(wf);
    } catch (err) {
      if (!view.signal.aborted) console.warn("refresh failed", err);
    }
  }, REFRESH_MS);
  view.signal.addEventListener("abort", () => refresh.cancel());

  // Counts and DAG asked together (the DAG is a few rows written at bind); counts shown
  // first.
  const dagAnswer = get(`workflows/${id}/dag`, {}, view.signal);
  dagAnswer.catch(() => {}); // its error is shown below, once the counts are
  show(await get(`workflows/${id}`, {}, view.signal));
  try {
    dag = await dagAnswer;
    renderDag();
  } catch (err) {
    if (!view.signal.aborted) replace(dagBox, notice("error", err.message));
  }

  view.setLive("connecting");
  listen(
    `workflows/${id}/events`,
    {
      open: () => view.setLive("on"),
      workflow: (e) => {
        header.setStatus(e.status);
        refresh();
      },
      tasks: (e) => {
        if (taskSvg && e.task_ids) recolorTasks(taskSvg, e.task_ids, e.status);
        refresh();
      },
    },
    view.signal,
  ).addEventListener("error", () => view.setLive("connecting"));
}

const limitText = (limit) => (limit === null ? "none" : limit === 0 ? "0 · paused" : int(limit));
