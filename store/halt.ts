import type { Sql, TransactionSql } from "postgres";
import { LIVE_INSTANCE } from "../core/statuses.ts";

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
  /** of them, those that were RUNNING (the others had not started) */
  running: number;
}

/**
 * A stop's effect on tasks: live instances → KILL_SELF (returned by cluster, for the kill
 * orders), their tasks → ERROR_FATAL; tasks queued but not yet instantiated go back to
 * REGISTERING (nothing runs for them; a resume queues them again). Audited.
 */
export async function haltTasks(tx: Tx, workflowId: number): Promise<KillList[]> {
  const killed = await tx<KillList[]>`
    with live as (
      -- what each was before: a stop tells running work from work that never started
      select id, status as was from task_instance
      where workflow_id = ${workflowId} and status = any(${[...LIVE_INSTANCE]}::text[])
      for update
    ), k as (
      update task_instance i set status = 'KILL_SELF', status_at = now()
      from live
      where i.id = live.id and i.status = any(${[...LIVE_INSTANCE]}::text[])
      returning i.id, i.task_id, live.was
    ), audit as (
      insert into task_instance_status_audit (task_instance_id, status) select id, 'KILL_SELF' from k
    ), fatal as (
      update task set status = 'ERROR_FATAL', status_at = now()
      where id in (select task_id from k) and status = any(${["INSTANTIATING", "LAUNCHED", "RUNNING"]}::text[])
      returning id
    ), fatal_audit as (
      insert into task_status_audit (task_id, workflow_id, status) select id, ${workflowId}, 'ERROR_FATAL' from fatal
    )
    select c.name as cluster, array_agg(k.id order by k.id) as instance_ids,
      count(*) filter (where k.was = 'RUNNING')::int as running
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
