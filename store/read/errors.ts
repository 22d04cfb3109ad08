// Errors page: a workflow's failed attempts grouped by similar message, with counts and
// a few examples each. Grouping is done in SQL on a signature of the message: its first
// line (what the bridge or the worker said) and, when there is a stderr tail, its last
// line (where tracebacks name the exception), with digits and long hex runs blanked so
// "exit 137 on node-12" and "exit 137 on node-40" fall together. Attempts killed by a
// stop (KILL_SELF) are not failures: they are counted apart, as `stopped`.
import type { Sql } from "postgres";
import { FAILED_INSTANCE } from "../../core/statuses.ts";
import { iso } from "./shared.ts";

const EXAMPLES = 3;

export interface ErrorExample {
  instance: number;
  task: number;
  task_name: string;
  exit_code: number | null;
  node: string | null;
  message: string;
  time: string;
}

export interface ErrorGroup {
  signature: string;
  kind: string | null;
  template: string;
  count: number;
  tasks: number;
  first_at: string;
  last_at: string;
  examples: ErrorExample[];
}

export interface ErrorsAnswer {
  /** failed attempts in all */
  total: number;
  /** groups in all (only the first `limit` are listed) */
  group_count: number;
  groups: ErrorGroup[];
  /** attempts killed by a stop, a cold resume or a timeout, and their tasks */
  stopped: { attempts: number; tasks: number };
}

/** Which failed attempts: one template's (by name), one task's. */
export interface ErrorFilter {
  template?: string | undefined;
  taskId?: number | undefined;
}

/**
 * `order`: "count" puts the biggest groups first (the GUI), "newest" the groups that
 * failed last (the CLI: what went wrong most recently is what a user is looking at).
 */
export async function errorGroups(
  sql: Sql,
  workflowId: number,
  limit: number,
  options: ErrorFilter & { order?: "count" | "newest" } = {},
): Promise<ErrorsAnswer> {
  const template = options.template ?? null;
  const taskId = options.taskId ?? null;
  const groups = await sql<
    {
      signature: string;
      kind: string | null;
      template: string;
      count: number;
      tasks: number;
      first_at: Date;
      last_at: Date;
      examples: number[];
      total: number;
      group_count: number;
    }[]
  >`
    with failed as (
      select i.id, i.task_id, i.status_at, i.error_kind, t.array_id,
        coalesce(nullif(btrim(i.error, E' \n\t\r'), ''), i.status) as message
      from task_instance i
      join task t on t.id = i.task_id
      where i.workflow_id = ${workflowId}
        and i.status = any(${[...FAILED_INSTANCE]}::text[])
        and (${taskId}::bigint is null or i.task_id = ${taskId}::bigint)
        and (${template}::text is null or t.array_id in (${arraysNamed(sql, workflowId, template)}))
    ), signed as (
      select *,
        left(regexp_replace(regexp_replace(
          split_part(message, E'\n', 1)
            || case when position(E'\n' in message) > 0
                 then ' … ' || substring(message from '[^\n]*$') else '' end,
          '0x[0-9a-fA-F]+|[0-9a-fA-F]{8,}', '…', 'g'), '[0-9]+', 'N', 'g'), 300) as signature
      from failed
    ), grouped as (
      select signature, error_kind as kind, array_id, count(*)::int as count,
        count(distinct task_id)::int as tasks, min(status_at) as first_at,
        max(status_at) as last_at,
        (array_agg(id order by id desc))[1:${EXAMPLES}] as examples
      from signed
      group by signature, error_kind, array_id
    )
    select g.signature, g.kind, tt.name as template, g.count, g.tasks, g.first_at, g.last_at,
      g.examples, sum(g.count) over ()::int as total, count(*) over ()::int as group_count
    from grouped g
    join task_array a on a.id = g.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    order by ${options.order === "newest" ? sql`g.last_at desc, g.count desc` : sql`g.count desc, g.last_at desc`}
    limit ${limit}`;
  const ids = groups.flatMap((g) => g.examples);
  const examples =
    ids.length === 0
      ? []
      : await sql<(Omit<ErrorExample, "time"> & { time: Date })[]>`
          select i.id as instance, i.task_id as task, t.name as task_name, i.exit_code, i.node,
            coalesce(nullif(i.error, ''), i.status) as message, i.status_at as time
          from task_instance i join task t on t.id = i.task_id
          where i.id = any(${ids}::bigint[])`;
  const byId = new Map(examples.map((e) => [e.instance, { ...e, time: iso(e.time)! }]));
  const [stopped] = await sql<{ attempts: number; tasks: number }[]>`
    select count(*)::int as attempts, count(distinct i.task_id)::int as tasks
    from task_instance i join task t on t.id = i.task_id
    where i.workflow_id = ${workflowId} and i.status = 'KILL_SELF'
      and (${taskId}::bigint is null or i.task_id = ${taskId}::bigint)
      and (${template}::text is null or t.array_id in (${arraysNamed(sql, workflowId, template)}))`;
  return {
    stopped: stopped ?? { attempts: 0, tasks: 0 },
    total: groups[0]?.total ?? 0,
    group_count: groups[0]?.group_count ?? 0,
    groups: groups.map((g) => ({
      signature: g.signature,
      kind: g.kind,
      template: g.template,
      count: g.count,
      tasks: g.tasks,
      first_at: iso(g.first_at)!,
      last_at: iso(g.last_at)!,
      examples: g.examples.map((id) => byId.get(id)).filter((e) => e !== undefined),
    })),
  };
}

/** The arrays of a workflow's template of that name (a subquery). */
export function arraysNamed(sql: Sql, workflowId: number, template: string | null) {
  return sql`
    select a.id from task_array a
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where a.workflow_id = ${workflowId} and tt.name = ${template}`;
}
