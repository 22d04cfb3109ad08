// DOM building without markup: every string becomes a text node (textContent), never
// HTML, so text from tasks (stderr, commands, attribute values) is shown as text. No
// innerHTML anywhere in the app.

const SVG_NS = "http://www.w3.org/2000/svg";

function setProps(el, props) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "href" || key === "src" || key === "action") {
      // Only links into this app: no javascript: or data: URLs, whatever a value holds.
      const v = String(value);
      if (!v.startsWith("/") || v.startsWith("//")) throw new Error(`refused ${key}: ${v}`);
      el.setAttribute(key, v);
    } else if (key === "value" && "value" in el) el.value = String(value);
    else if (key === "checked" && "checked" in el) el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h("a", { href: "/x", class: "link" }, "text", otherNode). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/** An SVG element; strings become text nodes too. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

/**
 * Calls `fn` at most once per `ms`, always once more after the last call. An `fn` that
 * returns a promise is not called again before it settles, and the pause after it grows
 * to four times what it took: a page on a huge workflow refreshes less often instead of
 * keeping the database busy.
 */
export function throttle(fn, ms) {
  let timer = null;
  let running = false;
  let pending = false;
  let last = 0;
  let gap = ms;
  const schedule = () => {
    if (timer !== null || running) return;
    timer = setTimeout(run, Math.max(0, last + gap - Date.now()));
  };
  const run = async () => {
    timer = null;
    pending = false;
    running = true;
    const started = Date.now();
    try {
      await fn();
    } catch (err) {
      console.warn("refresh failed", err);
    } finally {
      running = false;
      last = Date.now();
      gap = Math.max(ms, 4 * (last - started));
      if (pending) schedule();
    }
  };
  const wrapped = () => {
    pending = true;
    schedule();
  };
  wrapped.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    pending = false;
  };
  wrapped.pending = () => pending;
  return wrapped;
}

/** Waits `ms` after the last call before calling `fn`. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
