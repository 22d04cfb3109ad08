/**
 * The web GUI's HTTP server (node:http): the single-page app from gui/static/ and a JSON
 * API over Postgres (read-only, gui/db.ts), live updates by Server-Sent Events from the
 * bus (events.ts), and actions as requests on the command subjects (actions.ts).
 *
 * Routes (ids are numbers; every answer is JSON with numbers as numbers, or `{ error }`):
 *   GET  /api/health
 *   GET  /api/workflows?user&name&status&from&to&limit&offset
 *   GET  /api/workflows/:id              overview: counts per template, rate, limits
 *   GET  /api/workflows/:id/dag          template DAG (+ task DAG when small)
 *   GET  /api/workflows/:id/tasks?status&template&name&limit&offset
 *   GET  /api/workflows/:id/errors?limit
 *   GET  /api/workflows/:id/resources
 *   GET  /api/workflows/:id/events       SSE
 *   GET  /api/events                     SSE, every workflow's status
 *   GET  /api/tasks/:id
 *   POST /api/workflows/:id/stop | resume | concurrency, POST /api/tasks/:id/status
 *   GET  anything else                   the app (index.html), or a file of gui/static/
 *
 * Loopback by default. Actions are unauthenticated, as the CLI's are for anyone who
 * reaches NATS; against other web pages they are guarded: a POST must be JSON (a
 * cross-site form cannot send that without a preflight we never grant) and its Origin,
 * when given, must be this server; on loopback the Host must be a loopback name, so a
 * rebound DNS name cannot reach the API.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import type { Logger } from "../core/log.ts";
import { type Action, runAction } from "./actions.ts";
import { TASK_STATUSES, WORKFLOW_STATUSES } from "./api/counts.ts";
import { workflowDag } from "./api/dag.ts";
import { errorGroups } from "./api/errors.ts";
import { resourceStats } from "./api/resources.ts";
import { taskDetail } from "./api/task.ts";
import { listTasks } from "./api/tasks.ts";
import { workflowOverview } from "./api/workflow.ts";
import { listWorkflows, workflowUsers } from "./api/workflows.ts";
import { EventRelay } from "./events.ts";
import { HttpError, Params, pathId, readJson, sendJson } from "./http.ts";
import { serveStatic } from "./static.ts";

export interface GuiOptions {
  sql: Sql;
  nc: NatsConnection;
  log: Logger;
  host?: string;
  /** 0 picks a free port */
  port?: number;
  /** how the database is reached (gui/db.ts), for /api/health */
  dbMode?: string;
}

export interface RunningGui {
  url: string;
  port: number;
  stop(): Promise<void>;
}

type Handler = (ctx: {
  req: IncomingMessage;
  res: ServerResponse;
  match: RegExpMatchArray;
  params: Params;
}) => Promise<unknown>;

interface Route {
  method: "GET" | "POST";
  path: RegExp;
  handler: Handler;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function startGui(options: GuiOptions): Promise<RunningGui> {
  const { sql, nc } = options;
  const log = options.log.child({ component: "gui" });
  const host = options.host ?? "127.0.0.1";
  const relay = new EventRelay(nc, log);

  const notFound = (what: string): never => {
    throw new HttpError(404, `${what} does not exist`);
  };
  const workflowId = (m: RegExpMatchArray) => pathId(m[1], "workflow");
  const action =
    (name: Action, idKey: "workflow_id" | "task_id"): Handler =>
    async ({ req, match }) => {
      const body = await readJson(req);
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new HttpError(400, "request body must be a JSON object");
      }
      const id = pathId(match[1], idKey === "task_id" ? "task" : "workflow");
      return runAction(nc, name, { ...(body as Record<string, unknown>), [idKey]: id });
    };

  const routes: Route[] = [
    {
      method: "GET",
      path: /^\/api\/health$/,
      handler: async () => ({ ok: true, database: options.dbMode ?? "unknown" }),
    },
    {
      method: "GET",
      path: /^\/api\/workflows$/,
      handler: async ({ params: p }) => {
        const [list, users] = await Promise.all([
          listWorkflows(sql, {
            user: p.text("user"),
            name: p.text("name"),
            status: p.oneOf("status", WORKFLOW_STATUSES),
            from: p.date("from"),
            to: p.date("to"),
            limit: p.int("limit", 50, 1, 500),
            offset: p.int("offset", 0, 0, 1e9),
          }),
          workflowUsers(sql),
        ]);
        return { ...list, users };
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)$/,
      handler: async ({ match }) =>
        (await workflowOverview(sql, workflowId(match))) ?? notFound(`workflow ${match[1]}`),
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/dag$/,
      handler: async ({ match }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return workflowDag(sql, id);
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/tasks$/,
      handler: async ({ match, params: p }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return listTasks(sql, {
          workflow_id: id,
          status: p.oneOf("status", TASK_STATUSES),
          template: p.text("template"),
          name: p.text("name"),
          limit: p.int("limit", 50, 1, 1000),
          offset: p.int("offset", 0, 0, 1e9),
        });
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/errors$/,
      handler: async ({ match, params: p }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return errorGroups(sql, id, p.int("limit", 50, 1, 500));
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/resources$/,
      handler: async ({ match }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return resourceStats(sql, id);
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/events$/,
      handler: async ({ match, res }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        relay.stream(res, id);
        return STREAMING;
      },
    },
    {
      method: "GET",
      path: /^\/api\/events$/,
      handler: async ({ res }) => {
        relay.stream(res, null);
        return STREAMING;
      },
    },
    {
      method: "GET",
      path: /^\/api\/tasks\/([^/]+)$/,
      handler: async ({ match }) =>
        (await taskDetail(sql, pathId(match[1], "task"))) ?? notFound(`task ${match[1]}`),
    },
    {
      method: "POST",
      path: /^\/api\/workflows\/([^/]+)\/stop$/,
      handler: action("stop", "workflow_id"),
    },
    {
      method: "POST",
      path: /^\/api\/workflows\/([^/]+)\/resume$/,
      handler: action("resume", "workflow_id"),
    },
    {
      method: "POST",
      path: /^\/api\/workflows\/([^/]+)\/concurrency$/,
      handler: action("concurrency", "workflow_id"),
    },
    {
      method: "POST",
      path: /^\/api\/tasks\/([^/]+)\/status$/,
      handler: action("setStatus", "task_id"),
    },
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://gui.invalid");
    try {
      checkHost(req, host);
      if (!url.pathname.startsWith("/api/")) {
        if (req.method !== "GET" && req.method !== "HEAD") {
          throw new HttpError(405, `${req.method} is not allowed here`);
        }
        await serveStatic(req, res, url.pathname);
        return;
      }
      let pathMatched = false;
      for (const route of routes) {
        const match = url.pathname.match(route.path);
        if (!match) continue;
        pathMatched = true;
        if (route.method !== req.method) continue;
        if (route.method === "POST") checkPost(req);
        const result = await route.handler({
          req,
          res,
          match,
          params: new Params(url.searchParams),
        });
        if (result !== STREAMING) sendJson(res, 200, result);
        return;
      }
      throw pathMatched
        ? new HttpError(405, `${req.method} is not allowed on ${url.pathname}`)
        : new HttpError(404, `no API route ${url.pathname}`);
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
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => log.error({ err }, "gui handler crashed"));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/`;
  log.info({ url, database: options.dbMode }, "gui listening");
  return {
    url,
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

const STREAMING = Symbol("streaming");

async function mustExist(sql: Sql, workflowId: number): Promise<void> {
  const [row] = await sql`select 1 from workflow where id = ${workflowId}`;
  if (!row) throw new HttpError(404, `workflow ${workflowId} does not exist`);
}

/** Bound to loopback: only loopback names may be asked for (no DNS rebinding). */
function checkHost(req: IncomingMessage, bound: string): void {
  if (!LOOPBACK.has(bound)) return;
  const name = (req.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  if (!LOOPBACK.has(name)) throw new HttpError(421, `unexpected Host '${req.headers.host ?? ""}'`);
}

/** A POST must be JSON, and from a page of this server when the browser says where from. */
function checkPost(req: IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "actions take a JSON body (Content-Type: application/json)");
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null") {
    let originHost = "";
    try {
      originHost = new URL(origin).host;
    } catch {
      // unparsable: refused below
    }
    if (originHost !== req.headers.host) {
      throw new HttpError(403, `cross-origin request from ${origin} refused`);
    }
  }
}
