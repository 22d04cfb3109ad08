// The JSON API and the live event streams.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

async function parse(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: reported below
  }
  if (!res.ok) {
    const message = body && typeof body.error === "string" ? body.error : `HTTP ${res.status}`;
    throw new ApiError(res.status, message);
  }
  return body;
}

/** GET /api/<path> with a query built from `query` (empty values left out). */
export async function get(path, query = {}, signal) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  // No custom headers: a request the page preloaded (index.html) is matched and reused.
  const res = await fetch(`/api/${path}${qs ? `?${qs}` : ""}`, { signal });
  return parse(res);
}

/** POST /api/<path> with a JSON body; resolves to the command's answer. */
export async function post(path, body = {}) {
  const res = await fetch(`/api/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return parse(res);
}

/**
 * Listens to an SSE stream; `handlers` maps event names to callbacks (data parsed).
 * Closed when `signal` aborts. EventSource reconnects by itself.
 */
export function listen(path, handlers, signal) {
  const source = new EventSource(`/api/${path}`);
  for (const [name, fn] of Object.entries(handlers)) {
    if (name === "open") {
      source.addEventListener("open", () => fn());
      continue;
    }
    source.addEventListener(name, (e) => {
      try {
        fn(JSON.parse(e.data));
      } catch (err) {
        console.warn("bad event", err);
      }
    });
  }
  signal.addEventListener("abort", () => source.close());
  return source;
}
