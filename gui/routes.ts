/**
 * The GUI's JSON API: one table of routes over the read models (store/read/), the live
 * event relay and the command subjects. Ids in paths are numbers; every answer is JSON
 * with numbers as numbers, or `{ error }`.
 *
 *   GET  /api/health
 *   GET  /api/workflows?user&name&status&from&to&limit&offset
 *   GET  /api/workflows/:id              overview: counts per template, rate, limits
 *   GET  /api/workflows/:id/dag          template DAG (+ task DAG when small)
 *   GET  /api/workflows/:id/tasks?status&template&name&arg&limit&offset
 *   GET  /api/workflows/:id/tasks.csv?status&template&name&arg   every matching task, CSV
 *   GET  /api/workflows/:id/errors?limit
 *   GET  /api/workflows/:id/resources
 *   GET  /api/workflows/:id/usage        memory vs runtime of DONE attempts, per template
 *   GET  /api/workflows/:id/timeline     attempts: queued, started, ended
 *   GET  /api/workflows/:id/limits       concurrency limit changes
 *   GET  /api/workflows/:id/events       SSE
 *   GET  /api/events                     SSE, every workflow's status
 *   GET  /api/tasks/:id
 *   GET  /api/tasks/:id/logs, /api/tasks/:id/environment   owner and admins only (private.ts)
 *   POST /api/workflows/:id/stop | resume | concurrency, POST /api/tasks/:id/status
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { TASK_STATUSES, WORKFLOW_STATUSES } from "../core/statuses.ts";
import { workflowDag } from "../store/read/dag.ts";
import { errorGroups } from "../store/read/errors.ts";
import {
  limitHistory,
  taskAudit,
  taskInstanceTimes,
  usagePoints,
  workflowTimeline,
} from "../store/read/history.ts";
import { resourceStats } from "../store/read/resources.ts";
import { taskDetail } from "../store/read/task.ts";
import { CSV_COLUMNS, exportTasks, listTasks } from "../store/read/tasks.ts";
import { workflowExists, workflowOverview } from "../store/read/workflow.ts";
import { listWorkflows, workflowUsers } from "../store/read/workflows.ts";
import { type Action, runAction } from "./actions.ts";
import { actingUser, type GuiAuth } from "./auth.ts";
import { csvLine } from "./csv.ts";
import type { EventRelay } from "./events.ts";
import { HttpError, type Params, pathId, readJson } from "./http.ts";
import { privateRoutes } from "./private.ts";

export type Handler = (ctx: {
  req: IncomingMessage;
  res: ServerResponse;
  match: RegExpMatchArray;
  params: Params;
}) => Promise<unknown>;

export interface Route {
  method: "GET" | "POST";
  path: RegExp;
  handler: Handler;
}

/** What a handler returns when it answered itself (an event stream): nothing to send. */
export const STREAMING = Symbol("streaming");

export interface RouteDeps {
  sql: Sql;
  nc: NatsConnection;
  relay: EventRelay;
  /** how the database is reached (store/read/connect.ts), for /api/health */
  dbMode?: string | undefined;
  /** who may act (auth.ts) */
  auth: GuiAuth;
}

const notFound = (what: string): never => {
  throw new HttpError(404, `${what} does not exist`);
};

const workflowId = (m: RegExpMatchArray) => pathId(m[1], "workflow");

async function mustExist(sql: Sql, workflowId: number): Promise<void> {
  if (!(await workflowExists(sql, workflowId)))
    throw new HttpError(404, `workflow ${workflowId} does not exist`);
}

/** A POST that sends its JSON body, with the id from the path, as a command. */
function action(
  nc: NatsConnection,
  auth: GuiAuth,
  name: Action,
  idKey: "workflow_id" | "task_id",
): Handler {
  return async ({ req, match }) => {
    const caller = actingUser(req, auth);
    const body = await readJson(req);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new HttpError(400, "request body must be a JSON object");
    }
    const id = pathId(match[1], idKey === "task_id" ? "task" : "workflow");
    return runAction(nc, name, { ...(body as Record<string, unknown>), [idKey]: id }, caller);
  };
}

export function apiRoutes({ sql, nc, relay, dbMode, auth }: RouteDeps): Route[] {
  return [
    {
      method: "GET",
      path: /^\/api\/health$/,
      handler: async () => ({ ok: true, database: dbMode ?? "unknown" }),
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
          ...taskFilter(id, p),
          limit: p.int("limit", 50, 1, 1000),
          offset: p.int("offset", 0, 0, 1e9),
        });
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/tasks\.csv$/,
      handler: async ({ match, params: p, res }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        const rows = exportTasks(sql, taskFilter(id, p));
        res.writeHead(200, {
          "Content-Type": "text/csv; charset=utf-8",
          "Content-Disposition": `attachment; filename="workflow-${id}-tasks.csv"`,
          "X-Content-Type-Options": "nosniff",
        });
        res.write(csvLine(CSV_COLUMNS));
        for await (const chunk of rows) {
          const text = chunk.map((r) => csvLine(CSV_COLUMNS.map((c) => r[c]))).join("");
          if (!res.write(text)) await new Promise((r) => res.once("drain", r));
        }
        res.end();
        return STREAMING;
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/usage$/,
      handler: async ({ match }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return { workflow: id, templates: await usagePoints(sql, id) };
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/timeline$/,
      handler: async ({ match }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return workflowTimeline(sql, id);
      },
    },
    {
      method: "GET",
      path: /^\/api\/workflows\/([^/]+)\/limits$/,
      handler: async ({ match }) => {
        const id = workflowId(match);
        await mustExist(sql, id);
        return { workflow: id, changes: await limitHistory(sql, id) };
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
      handler: async ({ match }) => {
        const id = pathId(match[1], "task");
        const [detail, audit, times] = await Promise.all([
          taskDetail(sql, id),
          taskAudit(sql, id),
          taskInstanceTimes(sql, id),
        ]);
        if (!detail) return notFound(`task ${match[1]}`);
        // Each attempt with when it was queued, started and ended (its queue wait).
        const timeOf = new Map(times.map((t) => [t.instance, t]));
        const instances = detail.instances.map((i) => {
          const t = timeOf.get(i.id);
          return {
            ...i,
            queued_at: t?.queued_at ?? i.created_at,
            started_at: t?.started_at ?? null,
            ended_at: t?.ended_at ?? null,
            queue_wait_seconds: t?.queue_wait_seconds ?? null,
          };
        });
        return { ...detail, instances, audit };
      },
    },
    ...privateRoutes(nc, auth),
    {
      method: "POST",
      path: /^\/api\/workflows\/([^/]+)\/stop$/,
      handler: action(nc, auth, "stop", "workflow_id"),
    },
    {
      method: "POST",
      path: /^\/api\/workflows\/([^/]+)\/resume$/,
      handler: action(nc, auth, "resume", "workflow_id"),
    },
    {
      method: "POST",
      path: /^\/api\/workflows\/([^/]+)\/concurrency$/,
      handler: action(nc, auth, "concurrency", "workflow_id"),
    },
    {
      method: "POST",
      path: /^\/api\/tasks\/([^/]+)\/status$/,
      handler: action(nc, auth, "setStatus", "task_id"),
    },
  ];
}

/** The tasks page's filter, shared by the page and its CSV export. */
function taskFilter(id: number, p: Params) {
  return {
    workflow_id: id,
    status: p.oneOf("status", TASK_STATUSES),
    template: p.text("template"),
    name: p.text("name"),
    arg: p.pair("arg"),
  };
}
