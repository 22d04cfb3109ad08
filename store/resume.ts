import type { Sql, TransactionSql } from "postgres";
import { adjust, type Scales } from "../core/scale.ts";
import { loadCatalog, type QueueRow } from "./catalog.ts";

type Tx = TransactionSql | Sql;

const LIVE_TASK = ["QUEUED", "INSTANTIATING", "LAUNCHED", "RUNNING"];
const LIVE_INSTANCE = ["QUEUED", "INSTANTIATED", "LAUNCHED", "RUNNING"];

export interface KillList {
  cluster: string;
  instance_ids: number[];
}

/**
 * Resumes a workflow in a new run (SPEC.md §1): DONE tasks are kept, the others go back
 * to REGISTERING with attempts 0, and readiness counts are recomputed from the upstream
 * tasks that are not DONE. Resources stay as of their last attempt, except that a task
 * whose last attempt ran out of memory or time gets more of it, as its next retry would
 * have (as Jobmon does on resume); `keepResources` turns that off.
 * Hot: tasks with a live instance keep running. Cold: their instances are marked
 * KILL_SELF and returned, so that the caller orders the bridges to kill them.
 */
export async function resumeWorkflow(
  tx: Tx,
  workflowId: number,
  run: {
    cold: boolean;
    keepResources?: boolean;
    /** the run stays REGISTERING until released (see releaseWorkflow) */
    hold?: boolean;
    user: string;
    host: string;
    submissionId: string | null;
  },
): Promise<{ runId: number; killed: KillList[]; raised: number }> {
  const runStatus = run.cold ? "COLD_RESUME" : "HOT_RESUME";
  const [created] = await tx<{ id: number }[]>`
    insert into workflow_run (workflow_id, status, user_name, host, submission_id, released_at)
    values (${workflowId}, ${runStatus}, ${run.user}, ${run.host}, ${run.submissionId},
      ${run.hold ? null : new Date()})
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
  // Before the reset: the scale for the next retry depends on the attempts made so far.
  const raised = run.keepResources ? 0 : await raiseExceededResources(tx, workflowId);
  await tx`
    with reset as (
      update task set status = 'REGISTERING', attempts = 0, pending_upstream = 0, status_at = now()
      where workflow_id = ${workflowId} and status <> all(${keep})
      returning id
    )
    insert into task_status_audit (task_id, workflow_id, status)
    select id, ${workflowId}, 'REGISTERING' from reset`;
  await recountPendingUpstream(tx, workflowId);
  const status = run.hold ? "REGISTERING" : "QUEUED";
  await tx`
    update workflow set status = ${status}, status_at = now(), error = null
    where id = ${workflowId}`;
  await tx`insert into workflow_status_audit (workflow_id, status) values (${workflowId}, ${status})`;
  return { runId, killed, raised };
}

/**
 * Readiness counts of a workflow's REGISTERING tasks (set to 0 by the caller's reset)
 * recomputed from their upstream tasks that are not DONE.
 */
async function recountPendingUpstream(tx: Tx, workflowId: number): Promise<void> {
  await tx`
    update task t set pending_upstream = c.n
    from (
      select e.downstream_id, count(*)::int as n
      from edge e join task u on u.id = e.upstream_id
      where e.workflow_id = ${workflowId} and u.status <> 'DONE'
      group by e.downstream_id
    ) c
    where t.id = c.downstream_id and t.workflow_id = ${workflowId} and t.status = 'REGISTERING'`;
}

/**
 * Jobmon's workflow reset: the workflow's tasks back to REGISTERING with attempts 0 (all
 * of them, or with `partial` those not DONE) and the workflow HALTED, so that a resume
 * runs them. Nothing runs until then. The caller holds the workflow row lock and has
 * checked that nothing of it is running. Returns how many tasks were reset.
 */
export async function resetWorkflow(tx: Tx, workflowId: number, partial: boolean): Promise<number> {
  const keep = partial ? ["DONE"] : [];
  // The status before the update (RETURNING shows the new one): audit only real changes.
  const reset = await tx<{ id: number }[]>`
    with target as (
      select id, status as was from task
      where workflow_id = ${workflowId} and status <> all(${keep}::text[])
    ), reset as (
      update task t set status = 'REGISTERING', attempts = 0, pending_upstream = 0, status_at = now()
      from target where t.id = target.id
      returning t.id, target.was
    ), audit as (
      insert into task_status_audit (task_id, workflow_id, status)
      select id, ${workflowId}, 'REGISTERING' from reset where was <> 'REGISTERING'
    )
    select id from reset where was <> 'REGISTERING'`;
  await recountPendingUpstream(tx, workflowId);
  await tx`
    update workflow set status = 'HALTED', status_at = now(), error = null
    where id = ${workflowId}`;
  await tx`insert into workflow_status_audit (workflow_id, status) values (${workflowId}, 'HALTED')`;
  return reset.length;
}

interface ExceededTask {
  id: number;
  cluster_id: number;
  queue_id: number;
  attempts: number;
  cores: number;
  memory_bytes: number;
  runtime_seconds: number;
  resource_scales: Scales | null;
  fallback_queues: string[] | null;
  kind: "memory" | "runtime";
}

/**
 * Tasks that failed for good on memory or runtime (ERROR_FATAL, their latest instance
 * killed for it): that resource scaled by the task's scales (retry number = attempts so
 * far), moved to a fallback queue when it outgrows its own, exactly as the retry that
 * their attempts ran out before would have. Other tasks were scaled by retry already
 * when they needed it. Returns how many.
 */
async function raiseExceededResources(tx: Tx, workflowId: number): Promise<number> {
  const tasks = await tx<ExceededTask[]>`
    select t.id, t.cluster_id, t.queue_id, t.attempts, t.cores, t.memory_bytes,
      t.runtime_seconds, t.resource_scales, t.fallback_queues, last.error_kind as kind
    from task t
    cross join lateral (
      select error_kind from task_instance i where i.task_id = t.id order by i.id desc limit 1
    ) last
    where t.workflow_id = ${workflowId} and t.status = 'ERROR_FATAL'
      and last.error_kind in ('memory', 'runtime')`;
  if (tasks.length === 0) return 0;
  const catalog = await loadCatalog(tx);
  const queues = new Map<number, QueueRow & { cluster_id: number }>();
  for (const cluster of catalog.values())
    for (const q of cluster.queues) queues.set(q.id, { ...q, cluster_id: cluster.id });
  const raised = tasks.map((t) => {
    const fallbacks = (t.fallback_queues ?? [])
      .map((name) =>
        [...queues.values()].find((q) => q.cluster_id === t.cluster_id && q.name === name),
      )
      .filter((q) => q !== undefined);
    const next = adjust(
      {
        memory_bytes: t.memory_bytes,
        runtime_seconds: t.runtime_seconds,
        cores: t.cores,
        queue: queues.get(t.queue_id)!,
      },
      t.kind,
      t.resource_scales,
      Math.max(1, t.attempts),
      fallbacks,
    );
    return {
      id: t.id,
      queue_id: next.queue.id,
      memory: next.memory_bytes,
      runtime: next.runtime_seconds,
    };
  });
  await tx`
    update task t set queue_id = r.queue_id, memory_bytes = r.memory, runtime_seconds = r.runtime
    from unnest(${raised.map((r) => r.id)}::bigint[], ${raised.map((r) => r.queue_id)}::int[],
      ${raised.map((r) => r.memory)}::bigint[], ${raised.map((r) => r.runtime)}::int[])
      as r (id, queue_id, memory, runtime)
    where t.id = r.id`;
  return raised.length;
}

/**
 * A held workflow (bound, REGISTERING) may run: QUEUED, its latest run's clock started,
 * with the run-time settings given at release (Jobmon's run(fail_fast, timeout)).
 * Returns false when it was not held. The caller holds the workflow row lock.
 */
export async function releaseWorkflow(
  tx: Tx,
  workflowId: number,
  settings: { failFast?: boolean | undefined; timeoutSeconds?: number | undefined },
): Promise<boolean> {
  const rows = await tx<{ id: number }[]>`
    update workflow set status = 'QUEUED', status_at = now(),
      fail_fast = coalesce(${settings.failFast ?? null}::boolean, fail_fast),
      timeout_seconds = coalesce(${settings.timeoutSeconds ?? null}::int, timeout_seconds)
    where id = ${workflowId} and status = 'REGISTERING'
    returning id`;
  if (rows.length === 0) return false;
  await tx`insert into workflow_status_audit (workflow_id, status) values (${workflowId}, 'QUEUED')`;
  await tx`
    update workflow_run set released_at = now()
    where id = (select max(id) from workflow_run where workflow_id = ${workflowId})`;
  return true;
}
