import type { Sql, TransactionSql } from "postgres";
import { READY_TASK } from "../core/statuses.ts";

/**
 * The statements of one scheduling round, each small and named for what it does. Status
 * lists that match a partial index's predicate are written as literals: the planner can
 * prove the predicate only from constants (ACTIVE_TASK: task_active_idx; READY_TASK:
 * task_ready_idx, task_ready_array_idx; LIVE_WORKFLOW: workflow_live_idx). Guarded
 * updates by id do the opposite, see store/task-transition.ts.
 */

type Tx = TransactionSql | Sql;

export interface WorkflowLimits {
  id: number;
  status: string;
  fail_fast: boolean;
  /** null = unlimited, 0 = paused */
  max_concurrently_running: number | null;
}

/**
 * Locks the workflow row for the round: every transaction that adds active tasks to the
 * workflow (schedule, on any replica) holds it, so the counts read after it cannot be
 * raced past the limits.
 */
export async function lockWorkflow(
  tx: Tx,
  workflowId: number,
): Promise<WorkflowLimits | undefined> {
  const [row] = await tx<WorkflowLimits[]>`
    select id, status, fail_fast, max_concurrently_running
    from workflow where id = ${workflowId}
    for update`;
  return row;
}

/**
 * lockWorkflow for the sweep: a row another transaction holds is skipped (undefined)
 * rather than waited for, so replicas sweeping at once spread over the workflows instead
 * of queueing behind each other on the same list. Skipping loses nothing: the holder
 * reads the counts and ready tasks after its own lock, and whatever changes them later
 * (a task done or retried, a limit raised) wakes the workflow or waits for the next
 * sweep.
 */
export async function claimWorkflow(
  tx: Tx,
  workflowId: number,
): Promise<WorkflowLimits | undefined> {
  const [row] = await tx<WorkflowLimits[]>`
    select id, status, fail_fast, max_concurrently_running
    from workflow where id = ${workflowId}
    for update skip locked`;
  return row;
}

export async function hasFatalTask(tx: Tx, workflowId: number): Promise<boolean> {
  const [row] = await tx<{ found: boolean }[]>`
    select exists (
      select 1 from task where workflow_id = ${workflowId} and status = 'ERROR_FATAL'
    ) as found`;
  return row?.found ?? false;
}

export interface ArrayActive {
  array_id: number;
  active: number;
}

/** Arrays of the workflow that have a limit of their own. */
export async function limitedArrays(tx: Tx, workflowId: number): Promise<number[]> {
  const rows = await tx<{ id: number }[]>`
    select id from task_array
    where workflow_id = ${workflowId} and max_concurrently_running is not null`;
  return rows.map((r) => r.id);
}

/**
 * Tasks holding a slot in each array of the workflow that has a limit of its own, in one
 * statement (limitedArrays + activeByArray of them), read after the workflow lock so a
 * limit set by a command that held the lock is seen.
 */
export async function activeOfLimitedArrays(tx: Tx, workflowId: number): Promise<ArrayActive[]> {
  return tx<ArrayActive[]>`
    select a.id as array_id,
      (select count(*) from task t
        where t.workflow_id = ${workflowId} and t.array_id = a.id
          and t.status in ('QUEUED', 'INSTANTIATING', 'LAUNCHED', 'RUNNING'))::int as active
    from task_array a
    where a.workflow_id = ${workflowId} and a.max_concurrently_running is not null`;
}

/**
 * Tasks holding a slot, per array of the workflow (task_active_idx), of every array or of
 * `arrays` only. Counting is what a wake costs when nothing is ready, so only limited
 * things are counted: their active tasks are bounded by their limits.
 */
export async function activeByArray(
  tx: Tx,
  workflowId: number,
  arrays?: readonly number[],
): Promise<ArrayActive[]> {
  const only = arrays === undefined ? tx`` : tx`and array_id = any(${[...arrays]}::bigint[])`;
  return tx<ArrayActive[]>`
    select array_id, count(*)::int as active
    from task
    where workflow_id = ${workflowId}
      and status in ('QUEUED', 'INSTANTIATING', 'LAUNCHED', 'RUNNING') ${only}
    group by array_id`;
}

/**
 * Up to `limit` ready tasks of the workflow, best first (retried after a resource error,
 * then priority, then id), taking from each array no more than its limit leaves room
 * for. Each array is read through task_ready_array_idx for at most that many entries.
 */
export async function pickReadyTasks(
  tx: Tx,
  workflowId: number,
  limit: number,
  active: readonly ArrayActive[],
): Promise<number[]> {
  const rows = await tx<{ id: number }[]>`
    with act as (
      select * from unnest(${active.map((a) => a.array_id)}::bigint[], ${active.map((a) => a.active)}::int[])
        as act (array_id, n)
    ), room as (
      select a.id as array_id,
        case when a.max_concurrently_running is null then ${limit}::int
          else least(${limit}::int, greatest(0, a.max_concurrently_running - coalesce(act.n, 0)))
        end as n
      from task_array a left join act on act.array_id = a.id
      where a.workflow_id = ${workflowId}
    )
    select p.id
    from room
    cross join lateral (
      select t.id, (t.status = 'ADJUSTING_RESOURCES') as adjusting, t.priority
      from task t
      where t.array_id = room.array_id
        and t.status in ('REGISTERING', 'ADJUSTING_RESOURCES') and t.pending_upstream = 0
      order by (t.status = 'ADJUSTING_RESOURCES') desc, t.priority desc, t.id
      limit room.n
    ) p
    where room.n > 0
    order by p.adjusting desc, p.priority desc, p.id
    limit ${limit}::int`;
  return rows.map((r) => r.id);
}

export interface QueuedTask {
  id: number;
  /** attempts so far: the next instance is attempt + 1 */
  attempts: number;
  /** times queued over the task's life, this one included: never reset */
  queued_count: number;
}

/**
 * Ready tasks → QUEUED, audited. Guarded: a task no longer ready is skipped.
 *
 * Stamped with the time of this statement, not of the transaction (now()): the
 * transaction may have begun before it waited for the workflow's lock, held by a
 * completion whose freed slots it then counted. Stamped with now(), the tasks queued into
 * those slots would seem to start before the completed ones ended, and the audit would
 * show more tasks active at once than the limits ever let run.
 */
export async function queueTasks(
  tx: Tx,
  workflowId: number,
  ids: readonly number[],
): Promise<QueuedTask[]> {
  if (ids.length === 0) return [];
  return tx<QueuedTask[]>`
    with queued as (
      update task set status = 'QUEUED', status_at = clock_timestamp(),
        queued_count = queued_count + 1
      where id = any(${[...ids]}::bigint[])
        and status = any(${[...READY_TASK]}::text[]) and pending_upstream = 0
      returning id, attempts, queued_count, status_at
    ), audit as (
      insert into task_status_audit (task_id, workflow_id, status, at)
      select id, ${workflowId}, 'QUEUED', status_at from queued
    )
    select id, attempts, queued_count from queued order by id`;
}

/**
 * QUEUED/RUNNING workflows with at least one ready task: what the sweep looks at. Every
 * replica gets the same list; claimWorkflow spreads them over it.
 */
export async function workflowsWithReadyTasks(sql: Tx, limit: number): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    select w.id from workflow w
    where w.status in ('QUEUED', 'RUNNING')
      and exists (
        select 1 from task t
        where t.workflow_id = w.id and t.status in ('REGISTERING', 'ADJUSTING_RESOURCES')
          and t.pending_upstream = 0
      )
    order by w.id
    limit ${limit}`;
  return rows.map((r) => r.id);
}
