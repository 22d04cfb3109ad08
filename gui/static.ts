// The app's files, served from gui/static/ under /static/ as they are (plain ES modules
// and CSS: no build step). Every other path is a page of the app: index.html, whose script
// reads the path and renders the page. Revalidated on each load (ETag), so an upgraded
// Drover is never mixed with cached old modules.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize } from "node:path";
import { packagePath } from "../core/package-root.ts";
import * as statuses from "../core/statuses.ts";
import { HttpError, SECURITY_HEADERS } from "./http.ts";

export const STATIC_DIR = packagePath("gui/static/");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/**
 * The status lists of core/statuses.ts as a browser module (`/static/lib/statuses.js`):
 * the pages use the server's own lists, never a copy that could drift.
 */
export const STATUSES_MODULE = (() => {
  const lines = Object.entries(statuses)
    .filter(([, v]) => Array.isArray(v))
    .map(([name, v]) => `export const ${name} = Object.freeze(${JSON.stringify(v)});`);
  return `// Generated from core/statuses.ts by the server.\n${lines.join("\n")}\n`;
})();
const STATUSES_ETAG = `"${createHash("sha256").update(STATUSES_MODULE).digest("hex").slice(0, 16)}"`;

export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<void> {
  if (!pathname.startsWith("/static/")) return sendPage(req, res, pathname);
  if (pathname === "/static/lib/statuses.js") return sendStatuses(req, res);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname.slice("/static/".length));
  } catch {
    throw new HttpError(400, "bad path");
  }
  const file = normalize(join(STATIC_DIR, decoded));
  const type = TYPES[extname(file)];
  const inside = file.startsWith(STATIC_DIR) && !decoded.includes("\0");
  if (!inside || type === undefined || !(await isFile(file))) {
    throw new HttpError(404, `${pathname} not found`);
  }
  return send(req, res, file, type);
}

const isFile = (file: string) =>
  stat(file).then(
    (s) => s.isFile(),
    () => false,
  );

async function send(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  type: string,
): Promise<void> {
  const info = await stat(file);
  const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Cache-Control": "no-cache",
    ETag: etag,
  };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "Content-Length": info.size });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on("error", reject).on("end", resolve).pipe(res);
  });
}

/**
 * A page of the app: index.html. On a workflow's page the server names the page's first
 * API request in a preload link, so the browser asks for the counts while it is still
 * loading the modules (the app's fetch of the same URL takes the preloaded answer).
 */
async function sendPage(req: IncomingMessage, res: ServerResponse, pathname: string) {
  let html = await readFile(join(STATIC_DIR, "index.html"), "utf8");
  const workflow = /^\/workflows\/(\d{1,15})\/?$/.exec(pathname)?.[1];
  if (workflow !== undefined) {
    html = html.replace(
      "</head>",
      `  <link rel="preload" href="/api/workflows/${workflow}" as="fetch" crossorigin="anonymous" />\n  </head>`,
    );
  }
  const etag = `"${createHash("sha256").update(html).digest("base64url").slice(0, 16)}"`;
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": TYPES[".html"]!,
    "Cache-Control": "no-cache",
    ETag: etag,
  };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "Content-Length": Buffer.byteLength(html) });
  res.end(req.method === "HEAD" ? undefined : html);
}

function sendStatuses(req: IncomingMessage, res: ServerResponse): void {
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": TYPES[".js"]!,
    "Cache-Control": "no-cache",
    ETag: STATUSES_ETAG,
  };
  if (req.headers["if-none-match"] === STATUSES_ETAG) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, "Content-Length": Buffer.byteLength(STATUSES_MODULE) });
  res.end(req.method === "HEAD" ? undefined : STATUSES_MODULE);
}
