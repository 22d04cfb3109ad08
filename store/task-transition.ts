import type { Sql, TransactionSql } from "postgres";
import type { TaskStatus } from "./statuses.ts";

type Tx = TransactionSql | Sql;

export interface MovedTask {
  id: number;
  workflow_id: number;
}

/**
 * The guarded task transition (DESIGN.md §3): tasks among `ids` that are in one of
 * `from` move to `to`, with one audit row each, in one statement. Rows in another status
 * were handled by another delivery and are skipped; the moved ones come back (id order),
 * so callers act only on what this statement changed.
 */
export async function moveTasks(
  tx: Tx,
  ids: readonly number[],
  from: readonly TaskStatus[],
  to: TaskStatus,
): Promise<MovedTask[]> {
  if (ids.length === 0) return [];
  return tx<MovedTask[]>`
    with moved as (
      update task set status = ${to}, status_at = now()
      where id = any(${[...ids]}::bigint[]) and status = any(${[...from]}::text[])
      returning id, workflow_id
    ), audit as (
      insert into task_status_audit (task_id, workflow_id, status)
      select id, workflow_id, ${to} from moved
    )
    select id, workflow_id from moved order by id`;
}

/** Sorted, distinct ids (index scans on `= any` visit them in this order). */
export function sortedIds(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}
