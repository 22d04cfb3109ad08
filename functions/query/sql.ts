import type { Sql } from "postgres";
import type {
  ErrorsAnswer,
  InstanceAnswer,
  TaskAnswer,
  TasksAnswer,
  WorkflowAnswer,
} from "../../bus/queries.ts";
import { TASK_STATUSES } from "../../store/statuses.ts";

/** The read models' queries. Dates leave as ISO strings, ids and counts as numbers. */

const iso = (d: Date | string) => new Date(d).toISOString();

/** Instance statuses that mean the attempt failed (what `drover errors` lists). */
const ERROR_INSTANCE = [
  "ERROR",
  "RESOURCE_ERROR",
  "UNKNOWN_ERROR",
  "NO_HEARTBEAT",
  "NO_DISTRIBUTOR_ID",
  "KILL_SELF",
  "ERROR_FATAL",
];

export async function workflowSummary(
  sql: Sql,
  workflowId: number,
): Promise<WorkflowAnswer | undefined> {
  const [wf] = await sql<
    {
      id: number;
      name: string;
      status: string;
      created_at: Date;
      status_at: Date;
      run: { id: number; status: string } | null;
    }[]
  >`
    select w.id, w.name, w.status, w.created_at, w.status_at,
      (select json_build_object('id', r.id, 'status', r.status)
        from workflow_run r where r.workflow_id = w.id order by r.id desc limit 1) as run
    from workflow w where w.id = ${workflowId}`;
  if (!wf) return undefined;
  const rows = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from task where workflow_id = ${workflowId} group by status`;
  const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as WorkflowAnswer["counts"];
  let total = 0;
  for (const r of rows) {
    counts[r.status as keyof typeof counts] = r.n;
    total += r.n;
  }
  return {
    id: wf.id,
    name: wf.name,
    status: wf.status,
    total,
    counts,
    run: wf.run,
    created_at: iso(wf.created_at),
    status_at: iso(wf.status_at),
  };
}

export async function workflowExists(sql: Sql, workflowId: number): Promise<boolean> {
  const [row] = await sql`select 1 from workflow where id = ${workflowId}`;
  return row !== undefined;
}

export async function listTasks(
  sql: Sql,
  q: { workflow_id: number; status?: string | undefined; limit: number; offset: number },
): Promise<TasksAnswer> {
  const filter = q.status === undefined ? sql`` : sql`and t.status = ${q.status}`;
  const tasks = await sql<TasksAnswer["tasks"]>`
    select t.id, t.name, tt.name as template, t.status, t.attempts::int as attempts
    from task t
    join task_array a on a.id = t.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where t.workflow_id = ${q.workflow_id} ${filter}
    order by t.id
    limit ${q.limit} offset ${q.offset}`;
  const [count] = await sql<{ n: number }[]>`
    select count(*)::int as n from task t where t.workflow_id = ${q.workflow_id} ${filter}`;
  return { workflow: q.workflow_id, total: count?.n ?? 0, tasks: [...tasks] };
}

export async function taskDetail(sql: Sql, taskId: number): Promise<TaskAnswer | undefined> {
  const [task] = await sql<Omit<TaskAnswer, "instances">[]>`
    select t.id, t.name, t.workflow_id as workflow, tt.name as template, t.status,
      t.attempts::int as attempts, t.max_attempts::int as max_attempts, t.command
    from task t
    join task_array a on a.id = t.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where t.id = ${taskId}`;
  if (!task) return undefined;
  const instances = await sql<InstanceAnswer[]>`
    select id, status, exit_code, distributor_id, memory_requested, memory_used, runtime_used,
      stdout_path as stdout, stderr_path as stderr, error, node
    from task_instance where task_id = ${taskId} order by id`;
  return { ...task, instances: [...instances] };
}

export async function workflowErrors(
  sql: Sql,
  workflowId: number,
  limit: number,
): Promise<ErrorsAnswer> {
  const rows = await sql<(Omit<ErrorsAnswer["errors"][number], "time"> & { time: Date })[]>`
    select i.task_id as task, t.name as task_name, i.id as instance, i.exit_code,
      coalesce(i.error, i.status) as message, i.status_at as time
    from task_instance i join task t on t.id = i.task_id
    where i.workflow_id = ${workflowId} and i.status = any(${ERROR_INSTANCE}::text[])
    order by i.id
    limit ${limit}`;
  return { errors: rows.map((r) => ({ ...r, time: iso(r.time) })) };
}
