import type { Sql, TransactionSql } from "postgres";
import { ACTIVE_TASK, LIVE_RUN, LIVE_WORKFLOW, TASK_STATUSES } from "../core/statuses.ts";

type Tx = TransactionSql | Sql;

export interface WorkflowEnd {
  workflow_id: number;
  status: "DONE" | "FAILED";
}

/** Tasks that keep a workflow going: holding a slot, or on their way back to a retry. */
const BUSY_TASK = [...ACTIVE_TASK, "ERROR_RECOVERABLE"];
const NOT_DONE_TASK = TASK_STATUSES.filter((s) => s !== "DONE");

interface Verdict {
  id: number;
  fail_fast: boolean;
  all_done: boolean;
  busy: boolean;
  ready: boolean;
  fatal: boolean;
}

/**
 * The end-of-workflow check, for the handlers that move tasks to a final status
 * (complete, retry) and for schedule. For each QUEUED/RUNNING workflow given:
 * - no task left that is not DONE → workflow DONE, its latest live run DONE;
 * - else nothing can run any more (no task active or awaiting retry, and no task ready
 *   — ready tasks do not count with fail_fast, schedule will not queue them) and some
 *   task is ERROR_FATAL → workflow FAILED, run ERROR.
 *
 * Takes the workflow row locks (in id order) before looking: two transactions that each
 * finish one of the last two tasks would otherwise both see the other's task still
 * running and neither would end the workflow. Under the lock, the later one reads the
 * earlier one's committed tasks: READ COMMITTED takes a snapshot per statement, so the
 * probes run in a statement of their own, after the one that waited for the lock.
 * Every probe is an index lookup (`task_workflow_status_idx`, `task_ready_idx`), never
 * a count over the workflow's tasks. Call it inside the transaction that moved the tasks.
 */
export async function settleWorkflows(
  tx: Tx,
  workflowIds: readonly number[],
): Promise<WorkflowEnd[]> {
  if (workflowIds.length === 0) return [];
  const ids = [...new Set(workflowIds)].sort((a, b) => a - b);
  // Its own statement: the probes below must take their snapshot after the lock is held.
  const locked = await tx<{ id: number }[]>`
    select id from workflow
    where id = any(${ids}::bigint[]) and status = any(${[...LIVE_WORKFLOW]}::text[])
    order by id
    for update`;
  return judgeWorkflows(
    tx,
    locked.map((w) => w.id),
  );
}

/**
 * settleWorkflows for workflows whose rows the caller has locked already (QUEUED/RUNNING,
 * in id order, in an earlier statement of this transaction): the verdict and the end.
 */
export async function judgeWorkflows(tx: Tx, lockedIds: readonly number[]): Promise<WorkflowEnd[]> {
  if (lockedIds.length === 0) return [];
  const verdicts = await tx<Verdict[]>`
    select w.id, w.fail_fast,
      not exists (select 1 from task t
        where t.workflow_id = w.id and t.status = any(${NOT_DONE_TASK}::text[])) as all_done,
      exists (select 1 from task t
        where t.workflow_id = w.id and t.status = any(${BUSY_TASK}::text[])) as busy,
      exists (select 1 from task t
        where t.workflow_id = w.id and t.status in ('REGISTERING', 'ADJUSTING_RESOURCES')
          and t.pending_upstream = 0) as ready,
      exists (select 1 from task t
        where t.workflow_id = w.id and t.status = 'ERROR_FATAL') as fatal
    from workflow w where w.id = any(${[...lockedIds]}::bigint[])`;
  const done = verdicts.filter((v) => v.all_done).map((v) => v.id);
  const failed = verdicts
    .filter((v) => !v.all_done && v.fatal && !v.busy && (v.fail_fast || !v.ready))
    .map((v) => v.id);
  const ended: WorkflowEnd[] = [];
  for (const id of await endWorkflows(tx, done, "DONE", "DONE"))
    ended.push({ workflow_id: id, status: "DONE" });
  for (const id of await endWorkflows(tx, failed, "FAILED", "ERROR"))
    ended.push({ workflow_id: id, status: "FAILED" });
  return ended;
}

/** Workflows (QUEUED/RUNNING) → `status` and their latest live run → `runStatus`, audited. */
export async function endWorkflows(
  tx: Tx,
  ids: readonly number[],
  status: "DONE" | "FAILED",
  runStatus: "DONE" | "ERROR",
): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await tx<{ id: number }[]>`
    with w as (
      update workflow set status = ${status}, status_at = now()
      where id = any(${[...ids]}::bigint[]) and status = any(${[...LIVE_WORKFLOW]}::text[])
      returning id
    ), wa as (
      insert into workflow_status_audit (workflow_id, status) select id, ${status} from w
    ), r as (
      update workflow_run set status = ${runStatus}, status_at = now()
      where id in (select max(id) from workflow_run where workflow_id in (select id from w) group by workflow_id)
        and status = any(${[...LIVE_RUN]}::text[])
      returning id
    ), ra as (
      insert into workflow_run_status_audit (workflow_run_id, status) select id, ${runStatus} from r
    )
    select id from w order by id`;
  return rows.map((r) => r.id);
}

/**
 * A workflow that stopped (FAILED or HALTED) whose tasks are now all DONE — tasks set
 * DONE by hand — is DONE, as Jobmon has it. Its runs keep the status they ended with.
 * Returns whether it changed; the caller holds the workflow row lock.
 */
export async function finishIfAllDone(tx: Tx, workflowId: number): Promise<boolean> {
  const rows = await tx<{ id: number }[]>`
    with w as (
      update workflow set status = 'DONE', status_at = now(), error = null
      where id = ${workflowId} and status in ('FAILED', 'HALTED')
        and not exists (select 1 from task t
          where t.workflow_id = ${workflowId} and t.status = any(${NOT_DONE_TASK}::text[]))
      returning id
    )
    insert into workflow_status_audit (workflow_id, status) select id, 'DONE' from w
    returning workflow_id as id`;
  return rows.length > 0;
}
