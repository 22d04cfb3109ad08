import type { Sql, TransactionSql } from "postgres";

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
