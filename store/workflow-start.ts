import type { Sql, TransactionSql } from "postgres";
import { LIVE_RUN } from "../core/statuses.ts";

type Tx = TransactionSql | Sql;

/**
 * A workflow's first tasks were queued: workflow QUEUED → RUNNING and its latest run
 * (BOUND, HOT_RESUME or COLD_RESUME) → RUNNING, each with its audit row. Guarded: a
 * workflow already RUNNING (or a run already moved) is left alone. Returns whether the
 * workflow itself changed, for its event.
 */
export async function startWorkflow(tx: Tx, workflowId: number): Promise<boolean> {
  const startable = LIVE_RUN.filter((s) => s !== "RUNNING");
  const [row] = await tx<{ workflow: number }[]>`
    with w as (
      update workflow set status = 'RUNNING', status_at = now()
      where id = ${workflowId} and status = 'QUEUED'
      returning id
    ), wa as (
      insert into workflow_status_audit (workflow_id, status) select id, 'RUNNING' from w
    ), r as (
      update workflow_run set status = 'RUNNING', status_at = now()
      where id = (select max(id) from workflow_run where workflow_id = ${workflowId})
        and status = any(${startable}::text[])
      returning id
    ), ra as (
      insert into workflow_run_status_audit (workflow_run_id, status) select id, 'RUNNING' from r
    )
    select (select count(*) from w)::int as workflow`;
  return (row?.workflow ?? 0) > 0;
}
