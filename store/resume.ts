import type { Sql, TransactionSql } from "postgres";

type Tx = TransactionSql | Sql;

const LIVE_TASK = ["QUEUED", "INSTANTIATING", "LAUNCHED", "RUNNING"];
const LIVE_INSTANCE = ["QUEUED", "INSTANTIATED", "LAUNCHED", "RUNNING"];

export interface KillList {
  cluster: string;
  instance_ids: number[];
}

/**
 * Resumes a workflow in a new run (SPEC.md §1): DONE tasks are kept, the others go back
 * to REGISTERING with attempts 0 (their resources stay as of their last attempt), and
 * readiness counts are recomputed from the upstream tasks that are not DONE.
 * Hot: tasks with a live instance keep running. Cold: their instances are marked
 * KILL_SELF and returned, so that the caller orders the bridges to kill them.
 */
export async function resumeWorkflow(
  tx: Tx,
  workflowId: number,
  run: { cold: boolean; user: string; host: string; submissionId: string | null },
): Promise<{ runId: number; killed: KillList[] }> {
  const runStatus = run.cold ? "COLD_RESUME" : "HOT_RESUME";
  const [created] = await tx<{ id: number }[]>`
    insert into workflow_run (workflow_id, status, user_name, host, submission_id)
    values (${workflowId}, ${runStatus}, ${run.user}, ${run.host}, ${run.submissionId})
    returning id`;
  const runId = created!.id;
  await tx`insert into workflow_run_status_audit (workflow_run_id, status) values (${runId}, ${runStatus})`;
  // Earlier runs are over.
  await tx`
    update workflow_run set status = 'TERMINATED', status_at = now()
    where workflow_id = ${workflowId} and id <> ${runId}
      and status not in ('DONE', 'ERROR', 'STOPPED', 'TERMINATED')`;

  let killed: KillList[] = [];
  if (run.cold) {
    killed = await tx<KillList[]>`
      with k as (
        update task_instance set status = 'KILL_SELF', status_at = now()
        where workflow_id = ${workflowId} and status = any(${LIVE_INSTANCE})
        returning id, task_id
      ), audit as (
        insert into task_instance_status_audit (task_instance_id, status) select id, 'KILL_SELF' from k
      )
      select c.name as cluster, array_agg(k.id order by k.id) as instance_ids
      from k join task t on t.id = k.task_id join cluster c on c.id = t.cluster_id
      group by c.name`;
  }
  const keep = run.cold ? ["DONE"] : ["DONE", ...LIVE_TASK];
  await tx`
    with reset as (
      update task set status = 'REGISTERING', attempts = 0, pending_upstream = 0, status_at = now()
      where workflow_id = ${workflowId} and status <> all(${keep})
      returning id
    )
    insert into task_status_audit (task_id, workflow_id, status)
    select id, ${workflowId}, 'REGISTERING' from reset`;
  await tx`
    update task t set pending_upstream = c.n
    from (
      select e.downstream_id, count(*)::int as n
      from edge e join task u on u.id = e.upstream_id
      where e.workflow_id = ${workflowId} and u.status <> 'DONE'
      group by e.downstream_id
    ) c
    where t.id = c.downstream_id and t.workflow_id = ${workflowId} and t.status = 'REGISTERING'`;
  await tx`
    update workflow set status = 'QUEUED', status_at = now(), error = null
    where id = ${workflowId}`;
  await tx`insert into workflow_status_audit (workflow_id, status) values (${workflowId}, 'QUEUED')`;
  return { runId, killed };
}
