/**
 * query — read models for the CLI and other clients (bus/queries.ts has the contracts).
 *
 * Subscribes: query.workflow, query.tasks, query.task, query.errors, query.workflows — core NATS
 *   request/reply in the queue group `query` (not JetStream: a lost request is retried
 *   by its caller, and nothing changes state).
 * Answers: the result, or `{ error }` naming the problem: an unknown id ("workflow 12
 *   does not exist"), a request that is not JSON or fails its schema, or an internal
 *   failure (logged). Never crashes on bad input.
 * Side effects: none (reads Postgres).
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { z } from "zod";
import {
  QUERY_QUEUE_GROUP,
  type QueryError,
  QuerySchemas,
  QuerySubjects,
} from "../../bus/queries.ts";
import { Subjects } from "../../bus/subjects.ts";
import type { Logger } from "../../core/log.ts";
import { listWorkflows } from "../../gui/api/workflows.ts";
import { listTasks, taskDetail, workflowErrors, workflowExists, workflowSummary } from "./sql.ts";

export interface QueryServiceDeps {
  nc: NatsConnection;
  sql: Sql;
  log: Logger;
}

export interface RunningService {
  name: string;
  stop(): Promise<void>;
}

type Parsed<K extends keyof typeof QuerySchemas> = z.output<(typeof QuerySchemas)[K]>;

const noWorkflow = (id: number): QueryError => ({ error: `workflow ${id} does not exist` });

/** Answers one request (already parsed). Exported for tests. */
export async function answer(sql: Sql, subject: string, request: unknown): Promise<unknown> {
  switch (subject) {
    case QuerySubjects.workflow: {
      const q = request as Parsed<typeof QuerySubjects.workflow>;
      return (await workflowSummary(sql, q.workflow_id)) ?? noWorkflow(q.workflow_id);
    }
    case QuerySubjects.tasks: {
      const q = request as Parsed<typeof QuerySubjects.tasks>;
      if (!(await workflowExists(sql, q.workflow_id))) return noWorkflow(q.workflow_id);
      return listTasks(sql, q);
    }
    case QuerySubjects.task: {
      const q = request as Parsed<typeof QuerySubjects.task>;
      return (await taskDetail(sql, q.task_id)) ?? { error: `task ${q.task_id} does not exist` };
    }
    case QuerySubjects.errors: {
      const q = request as Parsed<typeof QuerySubjects.errors>;
      if (!(await workflowExists(sql, q.workflow_id))) return noWorkflow(q.workflow_id);
      return workflowErrors(sql, q.workflow_id, q.limit);
    }
    case QuerySubjects.workflows: {
      // The same read model as the GUI's workflows page.
      const q = request as Parsed<typeof QuerySubjects.workflows>;
      const found = await listWorkflows(sql, { ...q, offset: 0 });
      return {
        total: found.total,
        workflows: found.workflows.map((w) => ({
          id: w.id,
          name: w.name,
          status: w.status,
          user: w.user,
          tool: w.tool,
          total: w.total,
          counts: w.counts,
          created_at: w.created_at,
        })),
      };
    }
    default:
      return {
        error: `unknown query ${subject} (known: ${Object.values(QuerySubjects).join(", ")})`,
      };
  }
}

const decoder = new TextDecoder();

/** Parses and answers a raw request; every failure becomes `{ error }`. */
export async function handleRequest(
  sql: Sql,
  log: Logger,
  subject: string,
  data: Uint8Array,
): Promise<unknown> {
  let body: unknown;
  try {
    const text = decoder.decode(data);
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    return { error: `${subject} request is not JSON: ${(err as Error).message}` };
  }
  const schema = (QuerySchemas as Record<string, z.ZodType>)[subject];
  if (!schema) return answer(sql, subject, body);
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    return {
      error: `invalid ${subject} request: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`,
    };
  }
  try {
    return await answer(sql, subject, parsed.data);
  } catch (err) {
    log.error({ err, subject }, "query failed");
    return { error: `${subject} failed: ${(err as Error).message}` };
  }
}

export async function startQueryService(deps: QueryServiceDeps): Promise<RunningService> {
  const log = deps.log.child({ service: "query" });
  const inFlight = new Set<Promise<void>>();
  const respond = (m: Msg, body: unknown) => {
    if (!m.reply) return;
    try {
      m.respond(JSON.stringify(body));
    } catch (err) {
      // e.g. over the server's max payload
      log.warn({ err, subject: m.subject }, "query answer could not be sent");
      m.respond(
        JSON.stringify({ error: `the answer could not be sent: ${(err as Error).message}` }),
      );
    }
  };
  const sub: Subscription = deps.nc.subscribe(`${Subjects.query}.*`, {
    queue: QUERY_QUEUE_GROUP,
    callback: (err, m) => {
      if (err) {
        log.warn({ err }, "query subscription error");
        return;
      }
      const p = handleRequest(deps.sql, log, m.subject, m.data)
        .then((body) => respond(m, body))
        .catch((e) => log.error({ err: e }, "query not answered"));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    },
  });
  log.info({ subjects: Object.values(QuerySubjects) }, "query service started");
  return {
    name: "query",
    async stop() {
      await sub.drain().catch(() => {});
      await Promise.allSettled([...inFlight]);
      log.info("query service stopped");
    },
  };
}
