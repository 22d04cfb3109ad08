// Task page: the task, its resources, every instance (where it ran, what it asked for
// and used, how it ended, the stderr tail, log paths) and its neighbours in the DAG.
import type { Sql } from "postgres";
import { iso } from "../http.ts";

/** Neighbours listed per direction; the total is given apart. */
const NEIGHBOURS_MAX = 100;

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

export interface Neighbour {
  id: number;
  name: string;
  template: string;
  status: string;
}

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
  instances: InstanceRow[];
  upstream: { total: number; tasks: Neighbour[] };
  downstream: { total: number; tasks: Neighbour[] };
}

export async function taskDetail(sql: Sql, taskId: number): Promise<TaskDetail | undefined> {
  const [task] = await sql<
    (Omit<TaskDetail, "instances" | "upstream" | "downstream" | "status_at" | "workflow"> & {
      status_at: Date;
      workflow_id: number;
      workflow_name: string;
      workflow_status: string;
    })[]
  >`
    select t.id, t.name, t.workflow_id, w.name as workflow_name, w.status as workflow_status,
      tt.name as template, t.array_id, t.status, t.attempts::int as attempts,
      t.max_attempts::int as max_attempts, t.command, t.args, t.attributes, t.status_at,
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
  const neighbours = (direction: "up" | "down") => {
    const [mine, theirs] =
      direction === "up" ? ["downstream_id", "upstream_id"] : ["upstream_id", "downstream_id"];
    return sql<(Neighbour & { total: number })[]>`
      select n.id, n.name, tt.name as template, n.status, count(*) over ()::int as total
      from edge e
      join task n on n.id = e.${sql(theirs)}
      join task_array a on a.id = n.array_id
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where e.${sql(mine)} = ${taskId}
      order by n.id
      limit ${NEIGHBOURS_MAX}`;
  };
  const [instances, up, down] = await Promise.all([
    sql<(Omit<InstanceRow, "created_at" | "status_at"> & { created_at: Date; status_at: Date })[]>`
      select id, status, distributor_id, node, exit_code, error_kind, memory_requested,
        memory_used, runtime_requested, runtime_used, stdout_path, stderr_path, error,
        created_at, status_at
      from task_instance where task_id = ${taskId} order by id`,
    neighbours("up"),
    neighbours("down"),
  ]);
  const list = (rows: (Neighbour & { total: number })[]) => ({
    total: rows[0]?.total ?? 0,
    tasks: rows.map(({ total: _t, ...n }) => n),
  });
  const { workflow_id, workflow_name, workflow_status, status_at, ...rest } = task;
  return {
    ...rest,
    workflow: { id: workflow_id, name: workflow_name, status: workflow_status },
    status_at: iso(status_at)!,
    instances: instances.map((i) => ({
      ...i,
      created_at: iso(i.created_at)!,
      status_at: iso(i.status_at)!,
    })),
    upstream: list(up),
    downstream: list(down),
  };
}
