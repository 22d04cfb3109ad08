import type { Sql, TransactionSql } from "postgres";
import { ACTIVE_TASK } from "../../store/statuses.ts";

/** The statements of the commands, each small and named for what it does. */

type Tx = TransactionSql | Sql;

export interface LockedWorkflow {
  id: number;
  status: string;
  name: string;
}

export async function lockWorkflow(tx: Tx, id: number): Promise<LockedWorkflow | undefined> {
  const [row] = await tx<
    LockedWorkflow[]
  >`select id, status, name from workflow where id = ${id} for update`;
  return row;
}

export async function setWorkflowLimit(
  tx: Tx,
  workflowId: number,
  limit: number | null,
): Promise<void> {
  await tx`update workflow set max_concurrently_running = ${limit} where id = ${workflowId}`;
}

/** The array of a workflow's template (by name); undefined when it has no such template. */
export async function setTemplateLimit(
  tx: Tx,
  workflowId: number,
  template: string,
  limit: number | null,
): Promise<number | undefined> {
  const [row] = await tx<{ id: number }[]>`
    update task_array a set max_concurrently_running = ${limit}
    from task_template_version v join task_template t on t.id = v.task_template_id
    where a.workflow_id = ${workflowId} and a.task_template_version_id = v.id and t.name = ${template}
    returning a.id`;
  return row?.id;
}

export async function templateNames(tx: Tx, workflowId: number): Promise<string[]> {
  const rows = await tx<{ name: string }[]>`
    select t.name from task_array a
    join task_template_version v on v.id = a.task_template_version_id
    join task_template t on t.id = v.task_template_id
    where a.workflow_id = ${workflowId} order by t.name`;
  return rows.map((r) => r.name);
}

export interface TaskRow {
  id: number;
  workflow_id: number;
  name: string;
  status: string;
}

/** The task and, with `direction`, every task upstream or downstream of it (transitively). */
export async function taskClosure(
  tx: Tx,
  taskId: number,
  direction: "upstream" | "downstream" | null,
): Promise<TaskRow[]> {
  if (direction === null) {
    return tx<
      TaskRow[]
    >`select id, workflow_id, name, status from task where id = ${taskId} for update`;
  }
  const rows =
    direction === "upstream"
      ? await tx<{ id: number }[]>`
          with recursive up(id) as (
            select ${taskId}::bigint
            union
            select e.upstream_id from edge e join up on e.downstream_id = up.id
          ) select id from up`
      : await tx<{ id: number }[]>`
          with recursive down(id) as (
            select ${taskId}::bigint
            union
            select e.downstream_id from edge e join down on e.upstream_id = down.id
          ) select id from down`;
  return tx<TaskRow[]>`
    select id, workflow_id, name, status from task
    where id = any(${rows.map((r) => r.id)}::bigint[]) order by id for update`;
}

export function activeOnes(tasks: readonly TaskRow[]): TaskRow[] {
  return tasks.filter((t) => (ACTIVE_TASK as readonly string[]).includes(t.status));
}

/** Tasks → DONE by hand (audited); returns those that changed. */
export async function markDone(
  tx: Tx,
  ids: readonly number[],
): Promise<{ id: number; workflow_id: number }[]> {
  if (ids.length === 0) return [];
  return tx`
    with moved as (
      update task set status = 'DONE', status_at = now()
      where id = any(${[...ids]}::bigint[]) and status <> 'DONE'
      returning id, workflow_id
    ), audit as (
      insert into task_status_audit (task_id, workflow_id, status) select id, workflow_id, 'DONE' from moved
    )
    select id, workflow_id from moved order by id`;
}

/**
 * Tasks → REGISTERING with attempts 0 (audited), then readiness recounted for them and
 * for their direct downstream tasks that are waiting: one of their upstream tasks may
 * no longer be DONE.
 */
export async function markRegistering(
  tx: Tx,
  ids: readonly number[],
): Promise<{ id: number; workflow_id: number }[]> {
  if (ids.length === 0) return [];
  const moved = await tx<{ id: number; workflow_id: number }[]>`
    with moved as (
      update task set status = 'REGISTERING', attempts = 0, status_at = now()
      where id = any(${[...ids]}::bigint[]) and status <> 'REGISTERING'
      returning id, workflow_id
    ), audit as (
      insert into task_status_audit (task_id, workflow_id, status) select id, workflow_id, 'REGISTERING' from moved
    )
    select id, workflow_id from moved order by id`;
  await tx`
    update task t set pending_upstream = (
      select count(*)::int from edge e join task u on u.id = e.upstream_id
      where e.downstream_id = t.id and u.status <> 'DONE')
    where (t.id = any(${[...ids]}::bigint[])
      or t.id in (select downstream_id from edge where upstream_id = any(${[...ids]}::bigint[])))
      and t.status in ('REGISTERING', 'ADJUSTING_RESOURCES')`;
  return moved;
}
