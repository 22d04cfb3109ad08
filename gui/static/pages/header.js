// The header every page of one workflow shares: breadcrumb, name, status, tabs, and the
// stop/resume buttons (they act through the command subjects; the status changes on the
// page when the bus says so, without a reload).
import { post } from "../lib/api.js";
import { h, replace } from "../lib/dom.js";
import { ago, dateTime } from "../lib/format.js";
import { LIVE_WORKFLOW, RESUMABLE_WORKFLOW } from "../lib/statuses.js";
import { badge, notice } from "../lib/widgets.js";

const TABS = [
  ["overview", "Overview", ""],
  ["tasks", "Tasks", "/tasks"],
  ["errors", "Errors", "/errors"],
  ["resources", "Resources", "/resources"],
  ["timeline", "Timeline", "/timeline"],
];

// A held workflow (REGISTERING) can be stopped as well as a live one.
const LIVE = ["REGISTERING", ...LIVE_WORKFLOW];
const RESUMABLE = RESUMABLE_WORKFLOW;

export function workflowHeader(workflowId, active) {
  const title = h("h1", { class: "wf-title" }, `Workflow ${workflowId}`);
  const status = h("span", { class: "wf-status" });
  const meta = h("div", { class: "wf-meta" });
  const feedback = h("div", { class: "feedback", "aria-live": "polite" });
  const cold = h("input", { type: "checkbox", id: "resume-cold" });
  const stopButton = h(
    "button",
    { class: "btn btn-danger", id: "stop", type: "button", hidden: true },
    "Stop",
  );
  const resumeButton = h(
    "button",
    { class: "btn btn-primary", id: "resume", type: "button", hidden: true },
    "Resume",
  );
  const coldLabel = h(
    "label",
    { class: "check", hidden: true, title: "kill instances still running (--reset-running)" },
    cold,
    "cold",
  );
  let currentStatus = null;

  const say = (kind, text) => replace(feedback, text ? notice(kind, text) : null);
  const act = async (button, path, body, done) => {
    button.disabled = true;
    say("info", `${button.textContent}…`);
    try {
      const answer = await post(`workflows/${workflowId}/${path}`, body);
      say("ok", done(answer));
    } catch (err) {
      say("error", err.message);
    } finally {
      button.disabled = false;
    }
  };
  stopButton.addEventListener("click", () => {
    if (!confirm(`Stop workflow ${workflowId}? Running instances are killed.`)) return;
    act(stopButton, "stop", {}, (a) => {
      const running = a.running ?? a.killed ?? 0;
      const waiting = (a.killed ?? 0) - running;
      const withdrawn = waiting > 0 ? `, ${waiting} not started yet withdrawn` : "";
      return `Stopped: ${running} running task(s) killed${withdrawn}; workflow ${a.status ?? "HALTED"}.`;
    });
  });
  resumeButton.addEventListener("click", () => {
    act(
      resumeButton,
      "resume",
      { reset_running: cold.checked },
      (a) => `Resumed in run ${a.run_id ?? "?"}; workflow ${a.status ?? ""}.`,
    );
  });

  const setStatus = (s) => {
    currentStatus = s;
    replace(status, badge(s, { class: "badge badge-big", id: "wf-status" }));
    stopButton.hidden = !LIVE.includes(s);
    resumeButton.hidden = !RESUMABLE.includes(s);
    coldLabel.hidden = resumeButton.hidden;
  };

  const el = h(
    "div",
    { class: "wf-header" },
    h(
      "nav",
      { class: "crumbs" },
      h("a", { href: "/" }, "Workflows"),
      h("span", { class: "sep" }, "/"),
      h("span", {}, `#${workflowId}`),
    ),
    h(
      "div",
      { class: "wf-headline" },
      h("div", { class: "wf-name" }, title, status),
      h("div", { class: "wf-actions" }, coldLabel, resumeButton, stopButton),
    ),
    meta,
    feedback,
    h(
      "nav",
      { class: "tabs" },
      TABS.map(([key, label, suffix]) =>
        h(
          "a",
          {
            href: `/workflows/${workflowId}${suffix}`,
            class: key === active ? "tab active" : "tab",
          },
          label,
        ),
      ),
    ),
  );

  return {
    el,
    get status() {
      return currentStatus;
    },
    setStatus,
    /** Fills the header from an overview (/api/workflows/:id). */
    update(wf) {
      title.textContent = wf.name || `Workflow ${wf.id}`;
      title.title = `workflow ${wf.id}`;
      setStatus(wf.status);
      replace(
        meta,
        h("span", {}, `#${wf.id}`),
        h("span", {}, wf.tool),
        wf.user ? h("span", {}, `by ${wf.user}`) : null,
        wf.run
          ? h("span", {}, `run ${wf.run.id} `, badge(wf.run.status, { class: "badge badge-small" }))
          : null,
        h("span", { title: dateTime(wf.created_at) }, `submitted ${ago(wf.created_at)}`),
      );
    },
  };
}
