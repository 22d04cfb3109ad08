// The app shell: routes a path to its page, keeps links inside the app (history API, no
// reloads), and gives each page an AbortSignal that ends its fetches and live streams
// when the user moves on.
import { h, replace } from "./lib/dom.js";
import { notice } from "./lib/widgets.js";
import * as errorsPage from "./pages/errors.js";
import * as resourcesPage from "./pages/resources.js";
import * as taskPage from "./pages/task.js";
import * as tasksPage from "./pages/tasks.js";
import * as timelinePage from "./pages/timeline.js";
import * as workflowPage from "./pages/workflow.js";
import * as workflowsPage from "./pages/workflows.js";

const routes = [
  [/^\/$/, workflowsPage],
  [/^\/workflows\/?$/, workflowsPage],
  [/^\/workflows\/(\d+)\/?$/, workflowPage],
  [/^\/workflows\/(\d+)\/tasks\/?$/, tasksPage],
  [/^\/workflows\/(\d+)\/errors\/?$/, errorsPage],
  [/^\/workflows\/(\d+)\/resources\/?$/, resourcesPage],
  [/^\/workflows\/(\d+)\/timeline\/?$/, timelinePage],
  [/^\/tasks\/(\d+)\/?$/, taskPage],
];

const main = document.getElementById("main");
let current = null;

export function navigate(path, { replace: replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

/** Sets the URL's query without a new page (filters): the page re-reads it itself. */
export function setQuery(query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  history.replaceState(null, "", `${location.pathname}${qs ? `?${qs}` : ""}`);
}

/** The live indicator in the top bar. */
export function setLive(state) {
  const el = document.getElementById("live");
  el.dataset.state = state;
  // Pages without a live stream show no indicator at all.
  el.hidden = state === "none";
  el.querySelector(".live-text").textContent = state === "on" ? "live" : "connecting";
}

function render() {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  setLive("none");
  const path = location.pathname;
  for (const [pattern, page] of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    main.replaceChildren();
    const view = {
      main,
      params: match.slice(1),
      query: new URLSearchParams(location.search),
      signal: controller.signal,
      navigate,
      setQuery,
      setLive,
      setTitle: (title) => {
        document.title = title ? `${title} · Drover` : "Drover";
      },
    };
    for (const a of document.querySelectorAll(".topnav a")) {
      a.classList.toggle("active", page === workflowsPage);
    }
    Promise.resolve(page.render(view)).catch((err) => {
      if (controller.signal.aborted) return;
      console.error(err);
      replace(main, notice("error", err.message));
    });
    return;
  }
  replace(
    main,
    h(
      "div",
      { class: "empty-state" },
      "No such page. ",
      h("a", { href: "/" }, "See the workflows"),
    ),
  );
}

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) {
    return;
  }
  const a = e.target.closest("a");
  if (!a || a.target) return;
  const href = a.getAttribute("href");
  if (!href?.startsWith("/") || href.startsWith("//") || href.startsWith("/api/")) return;
  e.preventDefault();
  if (href !== location.pathname + location.search) navigate(href);
});
window.addEventListener("popstate", render);
render();
