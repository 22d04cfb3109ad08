import type { Sql, TransactionSql } from "postgres";
import type { TiError } from "../bus/schemas.ts";
import { REPORTABLE_INSTANCE } from "../core/statuses.ts";

type Tx = TransactionSql | Sql;
type ErrorEntry = TiError["results"][number];

/** Instance status for each way of failing. */
export const INSTANCE_STATUS_FOR: Record<ErrorEntry["kind"], string> = {
  error: "ERROR",
  memory: "RESOURCE_ERROR",
  runtime: "RESOURCE_ERROR",
  lost: "UNKNOWN_ERROR",
  killed: "KILL_SELF",
  unlaunchable: "ERROR_FATAL",
};

/** The error text kept: the message, then the tail of stderr (column is capped at 16 KiB). */
export function errorText(r: ErrorEntry): string {
  const text = r.stderr_tail ? `${r.message}\n--- stderr (tail) ---\n${r.stderr_tail}` : r.message;
  return text.length > 16_000 ? text.slice(text.length - 16_000) : text;
}

export interface FailedInstance {
  id: number;
  task_id: number;
  workflow_id: number;
  kind: ErrorEntry["kind"];
}

/**
 * Live instances → their error status with exit code, error text, kind and usage,
 * audited. Guarded: an instance already ended (a redelivery, or killed by a stop that
 * already settled its task) is skipped; callers act only on the instances returned.
 */
export async function failInstances(
  tx: Tx,
  results: readonly ErrorEntry[],
): Promise<FailedInstance[]> {
  if (results.length === 0) return [];
  return tx<FailedInstance[]>`
    with r as (
      select * from unnest(${results.map((r) => r.id)}::bigint[],
        ${results.map((r) => INSTANCE_STATUS_FOR[r.kind])}::text[],
        ${results.map((r) => r.kind)}::text[],
        ${results.map((r) => r.exit_code ?? null)}::int[],
        ${results.map((r) => errorText(r))}::text[],
        ${results.map((r) => r.runtime_used ?? null)}::float8[],
        ${results.map((r) => r.memory_used ?? null)}::bigint[],
        ${results.map((r) => r.node ?? null)}::text[])
        as r (id, status, kind, exit_code, error, runtime_used, memory_used, node)
    ), moved as (
      update task_instance ti set status = r.status, status_at = now(), error_kind = r.kind,
        exit_code = r.exit_code, error = r.error,
        runtime_used = coalesce(r.runtime_used, ti.runtime_used),
        memory_used = coalesce(r.memory_used, ti.memory_used),
        node = coalesce(r.node, ti.node)
      from r
      where ti.id = r.id and ti.status = any(${[...REPORTABLE_INSTANCE]}::text[])
      returning ti.id, ti.task_id, ti.workflow_id, r.kind, r.status
    ), audit as (
      insert into task_instance_status_audit (task_instance_id, status) select id, status from moved
    )
    select id, task_id, workflow_id, kind from moved order by id`;
}

export interface FailingTask {
  id: number;
  workflow_id: number;
  attempts: number;
  max_attempts: number;
  cluster_id: number;
  queue_id: number;
  cores: number;
  memory_bytes: number;
  runtime_seconds: number;
  resource_scales: { memory?: number | number[]; runtime?: number | number[] } | null;
  fallback_queues: string[] | null;
}

/** The tasks of failed instances that are still bound to them, locked for the decision. */
export async function lockFailingTasks(tx: Tx, ids: readonly number[]): Promise<FailingTask[]> {
  if (ids.length === 0) return [];
  return tx<FailingTask[]>`
    select id, workflow_id, attempts, max_attempts, cluster_id, queue_id, cores, memory_bytes,
           runtime_seconds, resource_scales, fallback_queues
    from task
    where id = any(${[...ids]}::bigint[])
      and status = any(${["INSTANTIATING", "LAUNCHED", "RUNNING"]}::text[])
    order by id
    for update`;
}

export interface Adjustment {
  id: number;
  queue_id: number;
  memory_bytes: number;
  runtime_seconds: number;
}

/**
 * Tasks retried after a resource error: new resources (and queue), status
 * ADJUSTING_RESOURCES with priority so that they go first at the next scheduling;
 * audited as the error and the adjustment.
 */
export async function adjustTasks(tx: Tx, rows: readonly Adjustment[]): Promise<void> {
  if (rows.length === 0) return;
  await tx`
    with a as (
      select * from unnest(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.queue_id)}::int[],
        ${rows.map((r) => r.memory_bytes)}::bigint[], ${rows.map((r) => r.runtime_seconds)}::int[])
        as a (id, queue_id, memory_bytes, runtime_seconds)
    ), moved as (
      update task t set status = 'ADJUSTING_RESOURCES', status_at = now(), priority = 1,
        queue_id = a.queue_id, memory_bytes = a.memory_bytes, runtime_seconds = a.runtime_seconds
      from a where t.id = a.id
      returning t.id, t.workflow_id
    )
    insert into task_status_audit (task_id, workflow_id, status)
    select id, workflow_id, s from moved cross join unnest(array['ERROR_RECOVERABLE', 'ADJUSTING_RESOURCES']) as s`;
}

/** Tasks retried unchanged: back to REGISTERING (ready: nothing upstream is pending). */
export async function requeueTasks(tx: Tx, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await tx`
    with moved as (
      update task set status = 'REGISTERING', status_at = now()
      where id = any(${[...ids]}::bigint[])
      returning id, workflow_id
    )
    insert into task_status_audit (task_id, workflow_id, status)
    select id, workflow_id, s from moved cross join unnest(array['ERROR_RECOVERABLE', 'REGISTERING']) as s`;
}
