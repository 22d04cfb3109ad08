// Task page: the task, its resources, every instance (where it ran, what it asked for
// and used, how it ended, the stderr tail, log paths) and its neighbours in the DAG.
import type { Sql } from "postgres";
import { type NeighbourPage, neighbours } from "./dependencies.ts";
import { iso } from "./shared.ts";

/** Neighbours listed per direction; the total is given apart. */
const NEIGHBOURS_MAX = 100;

const NO_NEIGHBOURS: NeighbourPage = { total: 0, tasks: [] };

export interface InstanceRow {
  id: number;
  status: string;
  distributor_id: string | null;
  node: string | null;
  exit_code: number | null;
  error_kind: string | null;
  memory_requested: number | null;
  memory_used: number | null;
  runtime_requested: number | null;
  runtime_used: number | null;
  stdout_path: string | null;
  stderr_path: string | null;
  /** the error message with the stderr tail */
  error: string | null;
  created_at: string;
  status_at: string;
}

/**
 * Why a REGISTERING task does not run: the failed (ERROR_FATAL) tasks upstream of it,
 * reached through tasks that are not DONE (the first few, by id), and how many of its
 * direct upstream tasks are not DONE yet.
 */
export interface Blocked {
  failed: { id: number; name: string; template: string; status: string }[];
  failed_total: number;
  pending_upstream: number;
}

/** Failed ancestors listed at most. */
const BLOCKERS_MAX = 5;

export interface TaskDetail {
  id: number;
  name: string;
  workflow: { id: number; name: string; status: string };
  template: string;
  array_id: number;
  status: string;
  attempts: number;
  max_attempts: number;
  command: string;
  args: Record<string, unknown>;
  attributes: Record<string, unknown> | null;
  resources: {
    cluster: string;
    queue: string;
    cores: number | null;
    memory_bytes: number | null;
    runtime_seconds: number | null;
    project: string | null;
    fallback_queues: string[] | null;
  };
  status_at: string;
  /** set for a REGISTERING task with upstream tasks not DONE */
  blocked_by: Blocked | null;
  instances: InstanceRow[];
  upstream: NeighbourPage;
  downstream: NeighbourPage;
}

/** The task page; without neighbours (`neighbours: false`) its up/downstream pages are empty. */
export async function taskDetail(
  sql: Sql,
  taskId: number,
  options: { neighbours: boolean } = { neighbours: true },
): Promise<TaskDetail | undefined> {
  const [task] = await sql<
    (Omit<
      TaskDetail,
      "instances" | "upstream" | "downstream" | "status_at" | "workflow" | "blocked_by"
    > & {
      status_at: Date;
      pending_upstream: number;
      workflow_id: number;
      workflow_name: string;
      workflow_status: string;
    })[]
  >`
    select t.id, t.name, t.workflow_id, w.name as workflow_name, w.status as workflow_status,
      tt.name as template, t.array_id, t.status, t.attempts::int as attempts,
      t.max_attempts::int as max_attempts, t.command, t.args, t.attributes, t.status_at,
      t.pending_upstream,
      json_build_object('cluster', c.name, 'queue', q.name, 'cores', t.cores,
        'memory_bytes', t.memory_bytes, 'runtime_seconds', t.runtime_seconds,
        'project', t.project, 'fallback_queues', t.fallback_queues) as resources
    from task t
    join workflow w on w.id = t.workflow_id
    join task_array a on a.id = t.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    join cluster c on c.id = t.cluster_id
    join queue q on q.id = t.queue_id
    where t.id = ${taskId}`;
  if (!task) return undefined;
  const page = { limit: NEIGHBOURS_MAX, offset: 0 };
  const blocked = task.status === "REGISTERING" && task.pending_upstream > 0;
  const [instances, up, down, blockers] = await Promise.all([
    sql<(Omit<InstanceRow, "created_at" | "status_at"> & { created_at: Date; status_at: Date })[]>`
      select id, status, distributor_id, node, exit_code, error_kind, memory_requested,
        memory_used, runtime_requested, runtime_used, stdout_path, stderr_path, error,
        created_at, status_at
      from task_instance where task_id = ${taskId} order by id`,
    options.neighbours ? neighbours(sql, taskId, "up", page) : NO_NEIGHBOURS,
    options.neighbours ? neighbours(sql, taskId, "down", page) : NO_NEIGHBOURS,
    blocked ? failedAncestors(sql, taskId) : undefined,
  ]);
  const { workflow_id, workflow_name, workflow_status, status_at, pending_upstream, ...rest } =
    task;
  return {
    ...rest,
    blocked_by: blockers ? { ...blockers, pending_upstream } : null,
    workflow: { id: workflow_id, name: workflow_name, status: workflow_status },
    status_at: iso(status_at)!,
    instances: instances.map((i) => ({
      ...i,
      created_at: iso(i.created_at)!,
      status_at: iso(i.status_at)!,
    })),
    upstream: up,
    downstream: down,
  };
}

/**
 * ERROR_FATAL tasks upstream of a task, walking up through tasks that are not DONE only
 * (a DONE task unblocked its part of the DAG): the part of the DAG that holds it back,
 * which is small next to the workflow.
 */
async function failedAncestors(
  sql: Sql,
  taskId: number,
): Promise<{ failed: Blocked["failed"]; failed_total: number }> {
  const rows = await sql<(Blocked["failed"][number] & { total: number })[]>`
    with recursive up (id) as (
      select e.upstream_id from edge e join task t on t.id = e.upstream_id
      where e.downstream_id = ${taskId} and t.status <> 'DONE'
      union
      select e.upstream_id from up
      join edge e on e.downstream_id = up.id
      join task t on t.id = e.upstream_id
      where t.status <> 'DONE'
    )
    select t.id, t.name, tt.name as template, t.status, count(*) over ()::int as total
    from up join task t on t.id = up.id
    join task_array a on a.id = t.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where t.status = 'ERROR_FATAL'
    order by t.id
    limit ${BLOCKERS_MAX}`;
  return {
    failed: rows.map(({ total: _, ...t }) => t),
    failed_total: rows[0]?.total ?? 0,
  };
}
