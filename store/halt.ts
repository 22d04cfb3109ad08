import type { Sql, TransactionSql } from "postgres";
import { LIVE_INSTANCE } from "./statuses.ts";

/** Halting a workflow: what a stop command and the reaper's workflow timeout share. */

type Tx = TransactionSql | Sql;

export async function setWorkflowStatus(
  tx: Tx,
  id: number,
  status: string,
  runStatus?: string,
): Promise<void> {
  await tx`update workflow set status = ${status}, status_at = now() where id = ${id}`;
  await tx`insert into workflow_status_audit (workflow_id, status) values (${id}, ${status})`;
  if (!runStatus) return;
  await tx`
    with r as (
      update workflow_run set status = ${runStatus}, status_at = now()
      where id = (select max(id) from workflow_run where workflow_id = ${id})
      returning id
    )
    insert into workflow_run_status_audit (workflow_run_id, status) select id, ${runStatus} from r`;
}

export interface KillList {
  cluster: string;
  instance_ids: number[];
}

/**
 * A stop's effect on tasks: live instances → KILL_SELF (returned by cluster, for the kill
 * orders), their tasks → ERROR_FATAL; tasks queued but not yet instantiated go back to
 * REGISTERING (nothing runs for them; a resume queues them again). Audited.
 */
export async function haltTasks(tx: Tx, workflowId: number): Promise<KillList[]> {
  const killed = await tx<KillList[]>`
    with k as (
      update task_instance set status = 'KILL_SELF', status_at = now()
      where workflow_id = ${workflowId} and status = any(${[...LIVE_INSTANCE]}::text[])
      returning id, task_id
    ), audit as (
      insert into task_instance_status_audit (task_instance_id, status) select id, 'KILL_SELF' from k
    ), fatal as (
      update task set status = 'ERROR_FATAL', status_at = now()
      where id in (select task_id from k) and status = any(${["INSTANTIATING", "LAUNCHED", "RUNNING"]}::text[])
      returning id
    ), fatal_audit as (
      insert into task_status_audit (task_id, workflow_id, status) select id, ${workflowId}, 'ERROR_FATAL' from fatal
    )
    select c.name as cluster, array_agg(k.id order by k.id) as instance_ids
    from k join task t on t.id = k.task_id join cluster c on c.id = t.cluster_id
    group by c.name`;
  await tx`
    with back as (
      update task set status = 'REGISTERING', status_at = now()
      where workflow_id = ${workflowId} and status = 'QUEUED'
      returning id
    )
    insert into task_status_audit (task_id, workflow_id, status) select id, ${workflowId}, 'REGISTERING' from back`;
  return killed;
}
