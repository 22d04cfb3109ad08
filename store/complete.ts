import type { Sql, TransactionSql } from "postgres";
import type { TiDone } from "../bus/schemas.ts";
import { REPORTABLE_INSTANCE } from "../core/statuses.ts";

/** The statements of a completion, each small and named for what it does. */

type Tx = TransactionSql | Sql;

type DoneEntry = TiDone["results"][number];

/**
 * Live instances (INSTANTIATED/LAUNCHED/RUNNING) → DONE with their exit code (0 when not
 * given) and usage, audited (guarded: an instance already ended is skipped, so a
 * redelivered result has no effect); then the guarded transition of their tasks (`from`
 * → DONE, audited, store/task-transition.ts), then the row locks of the downstream tasks
 * of the tasks that moved, in id order (as releaseDownstream takes them: fan-ins
 * completed by concurrent transactions would otherwise deadlock): one statement, one
 * round trip.
 * Returns the tasks that moved to DONE (id order); their downstream tasks are locked for
 * releaseDownstreamAndLock.
 */
export async function finishAndMoveTasks(
  tx: Tx,
  results: readonly DoneEntry[],
  from: readonly string[],
): Promise<{ id: number; workflow_id: number }[]> {
  if (results.length === 0) return [];
  const rows = await tx<{ id: number; workflow_id: number; locked: number }[]>`
    with d as (
      select * from unnest(${results.map((r) => r.id)}::bigint[],
        ${results.map((r) => r.exit_code ?? null)}::int[],
        ${results.map((r) => r.runtime_used ?? null)}::float8[],
        ${results.map((r) => r.memory_used ?? null)}::bigint[],
        ${results.map((r) => r.node ?? null)}::text[])
        as d (id, exit_code, runtime_used, memory_used, node)
    ), fin as (
      update task_instance ti set status = 'DONE', status_at = now(),
        exit_code = coalesce(d.exit_code, 0),
        runtime_used = coalesce(d.runtime_used, ti.runtime_used),
        memory_used = coalesce(d.memory_used, ti.memory_used),
        node = coalesce(d.node, ti.node)
      from d
      where ti.id = d.id and ti.status = any(${[...REPORTABLE_INSTANCE]}::text[])
      returning ti.id, ti.task_id
    ), fin_audit as (
      insert into task_instance_status_audit (task_instance_id, status)
      select id, 'DONE' from fin
    ), moved as (
      update task set status = 'DONE', status_at = now()
      where id in (select task_id from fin) and status = any(${[...from]}::text[])
      returning id, workflow_id
    ), moved_audit as (
      insert into task_status_audit (task_id, workflow_id, status)
      select id, workflow_id, 'DONE' from moved
    ), down as materialized (
      select id from task
      where id in (select downstream_id from edge where upstream_id in (select id from moved))
      order by id
      for update
    )
    select id, workflow_id, (select count(*) from down)::int as locked
    from moved order by id`;
  return rows.map((r) => ({ id: r.id, workflow_id: r.workflow_id }));
}

/**
 * A later report for an instance already DONE may know more than the first (the Slurm
 * bridge's MaxRSS from sacct arrives after the worker's own report, which misses the
 * memory of commands shorter than its first sample): usage still unknown is filled in.
 * Nothing else changes, so a redelivery stays harmless.
 */
export async function fillMissingUsage(tx: Tx, results: readonly DoneEntry[]): Promise<void> {
  const known = results.filter(
    (r) => r.memory_used !== undefined || r.runtime_used !== undefined || r.node !== undefined,
  );
  if (known.length === 0) return;
  await tx`
    update task_instance ti set
      memory_used = coalesce(ti.memory_used, d.memory_used),
      runtime_used = coalesce(ti.runtime_used, d.runtime_used),
      node = coalesce(ti.node, d.node)
    from unnest(${known.map((r) => r.id)}::bigint[],
      ${known.map((r) => r.memory_used ?? null)}::bigint[],
      ${known.map((r) => r.runtime_used ?? null)}::float8[],
      ${known.map((r) => r.node ?? null)}::text[]) as d (id, memory_used, runtime_used, node)
    where ti.id = d.id and ti.status = 'DONE'
      and ((ti.memory_used is null and d.memory_used is not null)
        or (ti.runtime_used is null and d.runtime_used is not null)
        or (ti.node is null and d.node is not null))`;
}
