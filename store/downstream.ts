import type { Sql, TransactionSql } from "postgres";
import { LIVE_WORKFLOW } from "../core/statuses.ts";

type Tx = TransactionSql | Sql;

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

export interface ReleasedAndLocked {
  released: Released[];
  /** the workflows given that are QUEUED/RUNNING, now locked (id order) */
  locked: { id: number; limited: boolean }[];
}

/**
 * releaseDownstream for a caller that has locked the downstream rows already (in id
 * order, in an earlier statement), and in the same statement the row locks of the live
 * workflows among `workflowIds` (id order), as settleWorkflows takes them: the caller
 * then judges them with judgeWorkflows. `limited`: the workflow or one of its arrays has
 * a concurrency limit (a finished task frees a slot schedule may fill).
 */
export async function releaseDownstreamAndLock(
  tx: Tx,
  doneTaskIds: readonly number[],
  workflowIds: readonly number[],
): Promise<ReleasedAndLocked> {
  const wf = [...new Set(workflowIds)].sort((a, b) => a - b);
  const [row] = await tx<{ released: Released[]; locked: { id: number; limited: boolean }[] }[]>`
    with released as (
      update task t set pending_upstream = greatest(0, t.pending_upstream - c.n)
      from (
        select downstream_id, count(*)::int as n
        from edge where upstream_id = any(${[...doneTaskIds]}::bigint[])
        group by downstream_id
      ) c
      where t.id = c.downstream_id
      returning t.workflow_id,
        (t.pending_upstream = 0 and t.status in ('REGISTERING', 'ADJUSTING_RESOURCES')) as ready
    ), counted as (
      select workflow_id, count(*) filter (where ready)::int as ready
      from released group by workflow_id
    ), wl as materialized (
      select w.id, (w.max_concurrently_running is not null or exists (select 1 from task_array a
          where a.workflow_id = w.id and a.max_concurrently_running is not null)) as limited
      from workflow w
      where w.id = any(${wf}::bigint[]) and w.status = any(${[...LIVE_WORKFLOW]}::text[])
      order by w.id
      for update of w
    )
    select
      (select coalesce(json_agg(json_build_object('workflow_id', workflow_id, 'ready', ready)
        order by workflow_id), '[]') from counted) as released,
      (select coalesce(json_agg(json_build_object('id', id, 'limited', limited) order by id), '[]')
        from wl) as locked`;
  return { released: row?.released ?? [], locked: row?.locked ?? [] };
}
