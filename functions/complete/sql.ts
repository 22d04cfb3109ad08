import type { Sql, TransactionSql } from "postgres";
import type { TiDone } from "../../bus/schemas.ts";
import { REPORTABLE_INSTANCE } from "../../store/statuses.ts";

/** The statements of a completion, each small and named for what it does. */

type Tx = TransactionSql | Sql;

type DoneEntry = TiDone["results"][number];

export interface FinishedInstance {
  id: number;
  task_id: number;
  workflow_id: number;
}

/**
 * Live instances (INSTANTIATED/LAUNCHED/RUNNING) → DONE with their exit code (0 when not
 * given) and usage, audited. Guarded: an instance already ended is skipped, so a
 * redelivered result has no effect; the caller moves only the tasks of instances
 * returned here.
 */
export async function finishInstances(
  tx: Tx,
  results: readonly DoneEntry[],
): Promise<FinishedInstance[]> {
  if (results.length === 0) return [];
  return tx<FinishedInstance[]>`
    with d as (
      select * from unnest(${results.map((r) => r.id)}::bigint[],
        ${results.map((r) => r.exit_code ?? null)}::int[],
        ${results.map((r) => r.runtime_used ?? null)}::float8[],
        ${results.map((r) => r.memory_used ?? null)}::bigint[],
        ${results.map((r) => r.node ?? null)}::text[])
        as d (id, exit_code, runtime_used, memory_used, node)
    ), moved as (
      update task_instance ti set status = 'DONE', status_at = now(),
        exit_code = coalesce(d.exit_code, 0),
        runtime_used = coalesce(d.runtime_used, ti.runtime_used),
        memory_used = coalesce(d.memory_used, ti.memory_used),
        node = coalesce(d.node, ti.node)
      from d
      where ti.id = d.id and ti.status = any(${[...REPORTABLE_INSTANCE]}::text[])
      returning ti.id, ti.task_id, ti.workflow_id
    ), audit as (
      insert into task_instance_status_audit (task_instance_id, status)
      select id, 'DONE' from moved
    )
    select id, task_id, workflow_id from moved order by id`;
}

export interface Released {
  workflow_id: number;
  /** downstream tasks whose last pending upstream task just finished */
  ready: number;
}

/**
 * Downstream tasks of `doneTaskIds` (tasks that became DONE in this transaction, so each
 * is counted once): pending_upstream decremented by how many of their upstream tasks
 * finished, in one statement. The rows are locked first in id order: completions of
 * tasks that share downstream tasks (a fan-in) would otherwise lock them in different
 * orders and deadlock. Never below zero (a task reset by hand may have been recounted).
 */
export async function releaseDownstream(
  tx: Tx,
  doneTaskIds: readonly number[],
): Promise<Released[]> {
  if (doneTaskIds.length === 0) return [];
  const done = [...doneTaskIds];
  await tx`
    select id from task
    where id in (select downstream_id from edge where upstream_id = any(${done}::bigint[]))
    order by id
    for update`;
  return tx<Released[]>`
    with released as (
      update task t set pending_upstream = greatest(0, t.pending_upstream - c.n)
      from (
        select downstream_id, count(*)::int as n
        from edge where upstream_id = any(${done}::bigint[])
        group by downstream_id
      ) c
      where t.id = c.downstream_id
      returning t.workflow_id,
        (t.pending_upstream = 0 and t.status in ('REGISTERING', 'ADJUSTING_RESOURCES')) as ready
    )
    select workflow_id, count(*) filter (where ready)::int as ready
    from released group by workflow_id order by workflow_id`;
}
