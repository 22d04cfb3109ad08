// A task's private parts on its page: the contents of its log files and the environment
// its command gets. The server shows them to the workflow's owner and admins only; anyone
// else sees one notice that they are private (the server's message names the owner).
// Built once per page and kept across the page's re-renders, so reading a log is not
// reset by live updates; `refresh()` reloads the tail shown.
import { ApiError, get } from "../lib/api.js";
import { h, replace } from "../lib/dom.js";
import { bytes } from "../lib/format.js";
import { emptyState, facts, notice, section } from "../lib/widgets.js";

/** Bytes per page of a log, as the server's default. */
const PAGE = 64 * 1024;

export function privatePanel(taskId, signal) {
  const el = h("div", { class: "task-private", id: "task-private" });
  const state = { stream: "stdout", attempt: "", start: 0, end: 0, text: "" };

  const stream = h(
    "select",
    { id: "log-stream", "aria-label": "stream" },
    h("option", { value: "stdout" }, "stdout"),
    h("option", { value: "stderr" }, "stderr"),
  );
  const attempt = h(
    "select",
    { id: "log-attempt", "aria-label": "attempt" },
    h("option", { value: "" }, "latest attempt"),
  );
  const earlier = h("button", { class: "btn", type: "button", id: "log-earlier" }, "Earlier");
  const again = h("button", { class: "btn", type: "button", id: "log-refresh" }, "Refresh");
  const meta = h("div", { class: "muted small", id: "log-meta" });
  const body = h("pre", { class: "code log", id: "task-log" });
  const logs = section("Logs", [stream, attempt, earlier, again], meta, body);
  const env = section("Environment", null, h("div", { class: "loading" }, "Loading…"));

  const refused = (err) => {
    if (!(err instanceof ApiError) || (err.status !== 403 && err.status !== 401)) return false;
    replace(
      el,
      section(
        "Logs and environment",
        null,
        h("div", { class: "callout", id: "task-private-notice" }, `Private: ${err.message}.`),
      ),
    );
    return true;
  };

  const show = (a) => {
    const options = [["", "latest attempt"]];
    for (let n = a.attempts; n >= 1; n--) options.push([String(n), `attempt ${n}`]);
    replace(
      attempt,
      options.map(([v, label]) => h("option", { value: v, selected: v === state.attempt }, label)),
    );
    earlier.disabled = !(a.start > 0);
    const where = a.path ?? "no file yet";
    const range = a.size ? ` · bytes ${a.start}–${a.end} of ${bytes(a.size)}` : "";
    replace(meta, `attempt ${a.attempt} of ${a.attempts} · ${a.status} · ${where}${range}`);
    if (a.content === null) {
      replace(body);
      body.after(notice("error", a.unreadable));
    } else {
      replace(body, state.text);
    }
  };

  async function loadTail() {
    for (const n of logs.querySelectorAll(".notice, .empty-state")) n.remove();
    try {
      const a = await get(
        `tasks/${taskId}/logs`,
        { stream: state.stream, attempt: state.attempt, limit: PAGE },
        signal,
      );
      state.start = a.start ?? 0;
      state.end = a.end ?? 0;
      state.text = a.content ?? "";
      show(a);
    } catch (err) {
      if (refused(err)) return;
      replace(body);
      replace(meta, "");
      body.after(
        err instanceof ApiError && err.status === 404
          ? emptyState(err.message)
          : notice("error", err.message),
      );
    }
  }

  async function loadEarlier() {
    const offset = Math.max(0, state.start - PAGE);
    const a = await get(
      `tasks/${taskId}/logs`,
      { stream: state.stream, attempt: state.attempt, offset, limit: state.start - offset },
      signal,
    );
    state.start = a.start;
    state.text = (a.content ?? "") + state.text;
    show({ ...a, end: state.end });
  }

  async function loadEnvironment() {
    try {
      const e = await get(`tasks/${taskId}/environment`, {}, signal);
      const vars = Object.entries(e.env ?? {}).sort(([a], [b]) => a.localeCompare(b));
      replace(
        env,
        env.firstChild,
        facts([["Working folder", e.working_dir ? h("code", {}, e.working_dir) : null]]),
        vars.length === 0
          ? emptyState("No environment was kept for this workflow.")
          : // Folded: a login shell's environment is long, and rarely what one looks for.
            h(
              "details",
              { class: "env-vars" },
              h("summary", {}, `${vars.length} variables`),
              h(
                "table",
                { class: "table kv", id: "task-env" },
                h(
                  "tbody",
                  {},
                  vars.map(([k, v]) =>
                    h("tr", {}, h("th", { class: "mono" }, k), h("td", { class: "mono" }, v)),
                  ),
                ),
              ),
            ),
      );
    } catch (err) {
      if (!refused(err)) replace(env, env.firstChild, notice("error", err.message));
    }
  }

  stream.addEventListener("change", () => {
    state.stream = stream.value;
    loadTail();
  });
  attempt.addEventListener("change", () => {
    state.attempt = attempt.value;
    loadTail();
  });
  earlier.addEventListener("click", () => loadEarlier().catch(() => {}));
  again.addEventListener("click", () => loadTail());

  el.append(logs, env);
  const first = loadTail().then(() => {
    if (el.contains(logs)) return loadEnvironment();
  });
  return {
    el,
    ready: first,
    /** the task changed: its latest attempt may have written more */
    refresh: () => (el.contains(logs) ? loadTail() : Promise.resolve()),
  };
}
