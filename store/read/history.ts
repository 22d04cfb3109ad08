// What happened when: a workflow's attempts on a timeline (Gantt), a task's status
// changes (task_status_audit), the workflow's limit changes (limit_change), and what each
// DONE attempt used (a memory-vs-runtime scatter). Times leave as ISO strings.
import type { PendingQuery, Row, Sql } from "postgres";
import { ERROR_INSTANCE } from "../../core/statuses.ts";
import { iso } from "./shared.ts";

/** Attempts on a timeline at most: beyond that a picture shows nothing more. */
export const TIMELINE_MAX = 2000;
/** Points of a scatter per template at most (an even sample beyond). */
export const SCATTER_MAX = 2000;

/**
 * One attempt: `queued_at` when it was created (handed to launch), `started_at` when
 * it began to run (its RUNNING report; null if it never ran), `ended_at` when it reached
 * a final status (null while live). Queue wait = started − queued.
 */
export interface TimelineBar {
  instance: number;
  task: number;
  task_name: string;
  template: string;
  status: string;
  queued_at: string;
  started_at: string | null;
  ended_at: string | null;
  queue_wait_seconds: number | null;
}

export interface Timeline {
  workflow: number;
  /** attempts in all (only the first TIMELINE_MAX by start are listed) */
  total: number;
  bars: TimelineBar[];
}

/** An attempt in one of these has ended (its status_at is when). */
const FINAL_INSTANCE = ["DONE", ...ERROR_INSTANCE];

type BarRow = Omit<TimelineBar, "queued_at" | "started_at" | "ended_at"> & {
  queued_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
};

/** The instances of a workflow, or of one task, with when they were queued, ran and ended. */
async function bars(sql: Sql, where: PendingQuery<Row[]>, limit: number): Promise<BarRow[]> {
  return sql<BarRow[]>`
    select i.id as instance, i.task_id as task, t.name as task_name, tt.name as template,
      i.status, i.created_at as queued_at,
      (select min(au.at) from task_instance_status_audit au
        where au.task_instance_id = i.id and au.status = 'RUNNING') as started_at,
      case when i.status = any(${FINAL_INSTANCE}::text[]) then i.status_at end as ended_at,
      extract(epoch from (select min(au.at) from task_instance_status_audit au
        where au.task_instance_id = i.id and au.status = 'RUNNING') - i.created_at)::float8
        as queue_wait_seconds
    from task_instance i
    join task t on t.id = i.task_id
    join task_array a on a.id = t.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where ${where}
    order by i.created_at, i.id
    limit ${limit}`;
}

const asBar = (r: BarRow): TimelineBar => ({
  ...r,
  queued_at: iso(r.queued_at)!,
  started_at: iso(r.started_at),
  ended_at: iso(r.ended_at),
});

export async function workflowTimeline(sql: Sql, workflowId: number): Promise<Timeline> {
  const [rows, [count]] = await Promise.all([
    bars(sql, sql`i.workflow_id = ${workflowId}`, TIMELINE_MAX),
    sql<{ n: number }[]>`
      select count(*)::int as n from task_instance where workflow_id = ${workflowId}`,
  ]);
  return { workflow: workflowId, total: count?.n ?? 0, bars: rows.map(asBar) };
}

/** A task's attempts with their times (the task page's instance rows add these). */
export async function taskInstanceTimes(sql: Sql, taskId: number): Promise<TimelineBar[]> {
  return (await bars(sql, sql`i.task_id = ${taskId}`, 10_000)).map(asBar);
}

/** A task's status changes since it was bound, oldest first. */
export async function taskAudit(
  sql: Sql,
  taskId: number,
): Promise<{ status: string; at: string }[]> {
  const rows = await sql<{ status: string; at: Date }[]>`
    select status, at from task_status_audit where task_id = ${taskId} order by at, ctid`;
  return rows.map((r) => ({ status: r.status, at: iso(r.at)! }));
}

export interface LimitChange {
  /** null: the workflow's own limit */
  template: string | null;
  /** null: none (unlimited); 0: paused */
  old_limit: number | null;
  new_limit: number | null;
  at: string;
}

/** A workflow's limit changes, newest first. */
export async function limitHistory(sql: Sql, workflowId: number): Promise<LimitChange[]> {
  const rows = await sql<(Omit<LimitChange, "at"> & { at: Date })[]>`
    select template, old_limit, new_limit, at from limit_change
    where workflow_id = ${workflowId} order by at desc, ctid desc limit 500`;
  return rows.map((r) => ({ ...r, at: iso(r.at)! }));
}

export interface UsagePoints {
  template: string;
  /** DONE attempts with both memory and runtime measured */
  measured: number;
  /** [memory bytes, runtime seconds, instance id] of each (an even sample past SCATTER_MAX) */
  points: [number, number, number][];
}

/** Per template, what each DONE attempt used: memory against runtime. */
export async function usagePoints(sql: Sql, workflowId: number): Promise<UsagePoints[]> {
  const rows = await sql<
    { template: string; measured: number; points: [number, number, number][] }[]
  >`
    with done as (
      select tt.name as template, i.id, i.memory_used::float8 as memory,
        i.runtime_used::float8 as runtime,
        row_number() over (partition by tt.name order by i.id) as n,
        count(*) over (partition by tt.name) as measured
      from task_instance i
      join task t on t.id = i.task_id
      join task_array a on a.id = t.array_id
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where i.workflow_id = ${workflowId} and i.status = 'DONE'
        and i.memory_used is not null and i.runtime_used is not null
    )
    select template, max(measured)::int as measured,
      json_agg(json_build_array(memory, runtime, id) order by id) as points
    from done
    -- every k-th point, k chosen so that at most SCATTER_MAX remain
    where (n - 1) % greatest(1, ceil(measured::float8 / ${SCATTER_MAX}))::int = 0
    group by template
    order by template`;
  return rows;
}
