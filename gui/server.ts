/**
 * The web GUI's HTTP server (node:http): the single-page app from gui/static/ and a JSON
 * API over Postgres (read-only, store/read/connect.ts; the routes in routes.ts), live
 * updates by Server-Sent Events from the bus (events.ts), and actions as requests on the
 * command subjects (actions.ts). Loopback by default; guards.ts says how other web pages
 * are kept away. Anything but /api/ is the app (index.html) or a file of gui/static/.
 *
 * gui/API.md documents each route with an example (checked by gui/api-doc.test.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { connectionToken } from "../bus/connect.ts";
import type { Logger } from "../core/log.ts";
import { Counter, DURATION_BUCKETS, Histogram, registry } from "../core/metrics.ts";
import { type GuiAuth, newGuiToken, tokenCookie } from "./auth.ts";
import { EventRelay } from "./events.ts";
import { checkHost, checkPost } from "./guards.ts";
import { HttpError, Params, sendJson } from "./http.ts";
import { apiRoutes, type Route, STREAMING } from "./routes.ts";
import { serveStatic } from "./static.ts";

const requests = new Counter({
  name: "drover_gui_requests_total",
  help: "HTTP requests the GUI answered, by kind (api, app), method and status code",
  labelNames: ["kind", "method", "status"] as const,
  registers: [registry],
});

const apiDuration = new Histogram({
  name: "drover_gui_api_duration_seconds",
  help: "Time to answer a GUI API request (live-update streams excluded: they last)",
  labelNames: ["method"] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

/** Counts a request when its answer is sent. */
function measure(req: IncomingMessage, res: ServerResponse, url: URL): void {
  const kind = url.pathname.startsWith("/api/") ? "api" : "app";
  const method = req.method === "POST" || req.method === "HEAD" ? req.method : "GET";
  const streaming = url.pathname.endsWith("/events");
  const end = kind === "api" && !streaming ? apiDuration.startTimer({ method }) : undefined;
  res.once("finish", () => {
    end?.();
    requests.inc({ kind, method, status: String(res.statusCode) });
  });
}

export interface GuiOptions {
  sql: Sql;
  nc: NatsConnection;
  log: Logger;
  host?: string;
  /** 0 picks a free port */
  port?: number;
  /** how the database is reached (store/read/connect.ts), for /api/health */
  dbMode?: string;
  /** who may act (auth.ts); default: a new random token, acting as this connection's user */
  auth?: GuiAuth;
  /** Host names the GUI answers to besides loopback names and its bound address */
  hosts?: readonly string[];
  /** live-update (SSE) streams open at once; default core/limits.ts */
  maxStreams?: number;
}

export interface RunningGui {
  url: string;
  /** the URL to open: with the token that lets its browser act (token mode) */
  openUrl: string;
  auth: GuiAuth;
  port: number;
  stop(): Promise<void>;
}

export async function startGui(options: GuiOptions): Promise<RunningGui> {
  const log = options.log.child({ component: "gui" });
  const host = options.host ?? "127.0.0.1";
  const auth: GuiAuth = options.auth ?? {
    mode: "token",
    token: newGuiToken(),
    self: connectionToken(options.nc),
  };
  const hosts = (options.hosts ?? []).map((h) => h.toLowerCase());
  const relay = new EventRelay(options.nc, log, options.maxStreams);
  const routes = apiRoutes({
    sql: options.sql,
    nc: options.nc,
    relay,
    dbMode: options.dbMode,
    auth,
  });

  const server = createServer((req, res) => {
    serve(routes, { host, hosts, auth }, log, req, res).catch((err) =>
      log.error({ err }, "gui handler crashed"),
    );
  });
  server.keepAliveTimeout = 5000;
  const port = await listen(server, options.port ?? 0, host);
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/`;
  const openUrl = auth.mode === "token" ? `${url}?token=${auth.token}` : url;
  log.info({ url, auth: auth.mode, database: options.dbMode }, "gui listening");
  return {
    url,
    openUrl,
    auth,
    port,
    async stop() {
      relay.closeAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      log.info("gui stopped");
    },
  };
}

/** Listens on `host`; resolves with the port (the one picked when `port` is 0). */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** One request: a file of the app, or the API route its path and method match. */
async function serve(
  routes: readonly Route[],
  where: { host: string; hosts: readonly string[]; auth: GuiAuth },
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://gui.invalid");
  measure(req, res, url);
  try {
    // Probes ask for the health route by the pod's address: it tells nothing else.
    if (url.pathname !== "/api/health") checkHost(req, where.host, where.hosts);
    if (!url.pathname.startsWith("/api/")) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        throw new HttpError(405, `${req.method} is not allowed here`);
      }
      const cookie = tokenCookie(where.auth, url.searchParams);
      if (cookie) res.setHeader("Set-Cookie", cookie);
      await serveStatic(req, res, url.pathname);
      return;
    }
    await serveApi(routes, req, res, url);
  } catch (err) {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof HttpError) {
      if (err.status >= 500) log.warn({ err, path: url.pathname }, "gui request failed");
      sendJson(res, err.status, { error: err.message });
      return;
    }
    log.error({ err, path: url.pathname }, "gui request failed");
    sendJson(res, 500, { error: `internal error: ${(err as Error).message}` });
  }
}

/** The first route whose path and method match; a path matched by another method is 405. */
async function serveApi(
  routes: readonly Route[],
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  let pathMatched = false;
  for (const route of routes) {
    const match = url.pathname.match(route.path);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== req.method) continue;
    if (route.method === "POST") checkPost(req);
    const result = await route.handler({ req, res, match, params: new Params(url.searchParams) });
    if (result !== STREAMING) sendJson(res, 200, result);
    return;
  }
  throw pathMatched
    ? new HttpError(405, `${req.method} is not allowed on ${url.pathname}`)
    : new HttpError(404, `no API route ${url.pathname}`);
}
