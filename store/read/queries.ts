import type { Sql } from "postgres";
import type { ErrorsAnswer, TaskAnswer, TasksAnswer, WorkflowAnswer } from "../../bus/queries.ts";
import { FAILED_INSTANCE } from "../../core/statuses.ts";
import { currentLimits } from "../limits.ts";
import { arraysNamed, errorGroups } from "./errors.ts";
import { foldCounts, iso } from "./shared.ts";
import { taskDetail as taskPage } from "./task.ts";
import { type TasksFilter, listTasks as tasksPage } from "./tasks.ts";

/**
 * The CLI's read models (query.*): the GUI's, in the shapes of SPEC.md §2. Dates leave as
 * ISO strings, ids and counts as numbers.
 */

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
  const [rows, limits] = await Promise.all([
    sql<{ status: string; n: number }[]>`
      select status, count(*)::int as n from task where workflow_id = ${workflowId} group by status`,
    currentLimits(sql, workflowId),
  ]);
  const { counts, total } = foldCounts(rows);
  return {
    id: wf.id,
    name: wf.name,
    status: wf.status,
    total,
    counts,
    run: wf.run,
    created_at: iso(wf.created_at)!,
    status_at: iso(wf.status_at)!,
    limits: { workflow: limits?.workflow ?? null, templates: limits?.templates ?? {} },
  };
}

/** The CLI's task list (SPEC.md §2 `tasks`): the GUI's task page, fewer fields. */
export async function listTasks(
  sql: Sql,
  q: { workflow_id: number; status?: string | undefined; limit: number; offset: number },
): Promise<TasksAnswer> {
  const page = await tasksPage(sql, {
    workflow_id: q.workflow_id,
    status: q.status as TasksFilter["status"],
    limit: q.limit,
    offset: q.offset,
  });
  return {
    workflow: q.workflow_id,
    total: page.total,
    tasks: page.tasks.map(({ id, name, template, status, attempts }) => ({
      id,
      name,
      template,
      status,
      attempts,
    })),
  };
}

/** The CLI's task (SPEC.md §2 `task`): the GUI's task page, fewer fields. */
export async function taskDetail(sql: Sql, taskId: number): Promise<TaskAnswer | undefined> {
  const task = await taskPage(sql, taskId, { neighbours: false });
  if (!task) return undefined;
  return {
    id: task.id,
    name: task.name,
    workflow: task.workflow.id,
    template: task.template,
    status: task.status,
    attempts: task.attempts,
    max_attempts: task.max_attempts,
    command: task.command,
    ...(task.blocked_by ? { blocked_by: task.blocked_by } : {}),
    instances: task.instances.map((i) => ({
      id: i.id,
      status: i.status,
      exit_code: i.exit_code,
      distributor_id: i.distributor_id,
      memory_requested: i.memory_requested,
      memory_used: i.memory_used,
      runtime_used: i.runtime_used,
      stdout: i.stdout_path,
      stderr: i.stderr_path,
      error: i.error,
      node: i.node,
    })),
  };
}

/**
 * The CLI's errors (SPEC.md §2 `errors`): failed attempts newest first, and the same
 * grouped by similar message (the GUI's groups, one example each). Attempts a stop
 * killed are counted apart, not listed as failures.
 */
export async function workflowErrors(
  sql: Sql,
  q: {
    workflow_id: number;
    limit: number;
    group_limit: number;
    template?: string | undefined;
    task_id?: number | undefined;
  },
): Promise<ErrorsAnswer> {
  const template = q.template ?? null;
  const taskId = q.task_id ?? null;
  const [rows, grouped] = await Promise.all([
    sql<(Omit<ErrorsAnswer["errors"][number], "time"> & { time: Date })[]>`
      select i.task_id as task, t.name as task_name, i.id as instance, i.exit_code,
        coalesce(i.error, i.status) as message, i.status_at as time
      from task_instance i join task t on t.id = i.task_id
      where i.workflow_id = ${q.workflow_id} and i.status = any(${[...FAILED_INSTANCE]}::text[])
        and (${taskId}::bigint is null or i.task_id = ${taskId}::bigint)
        and (${template}::text is null or t.array_id in (${arraysNamed(sql, q.workflow_id, template)}))
      order by i.status_at desc, i.id desc
      limit ${q.limit}`,
    errorGroups(sql, q.workflow_id, q.group_limit, {
      template: q.template,
      taskId: q.task_id,
      order: "newest",
    }),
  ]);
  return {
    errors: rows.map((r) => ({ ...r, time: iso(r.time)! })),
    total: grouped.total,
    groups: grouped.groups.flatMap(({ examples, ...g }) => {
      const e = examples[0];
      if (!e) return [];
      const example = {
        task: e.task,
        task_name: e.task_name,
        instance: e.instance,
        exit_code: e.exit_code,
        message: e.message,
        time: e.time,
      };
      return [{ ...g, example }];
    }),
    group_count: grouped.group_count,
    stopped: grouped.stopped,
  };
}
