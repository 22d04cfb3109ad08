import type { Sql, TransactionSql } from "postgres";
import { ACTIVE_TASK } from "../core/statuses.ts";

/** The statements of the commands, each small and named for what it does. */

export type Tx = TransactionSql | Sql;

export interface LockedWorkflow {
  id: number;
  status: string;
  name: string;
  /** the owner's user token; null for a workflow from before owners */
  owner: string | null;
}

/** The workflow (id and owner) a task belongs to. */
export async function taskWorkflow(
  sql: Tx,
  taskId: number,
): Promise<{ id: number; owner: string | null } | undefined> {
  const [row] = await sql<{ id: number; owner: string | null }[]>`
    select w.id, w.owner from task t join workflow w on w.id = t.workflow_id
    where t.id = ${taskId}`;
  return row ? { id: Number(row.id), owner: row.owner } : undefined;
}

export async function lockWorkflow(tx: Tx, id: number): Promise<LockedWorkflow | undefined> {
  const [row] = await tx<
    LockedWorkflow[]
  >`select id, status, name, owner from workflow where id = ${id} for update`;
  return row;
}

/** Sets the workflow's limit and records the change (limit_change). */
export async function setWorkflowLimit(
  tx: Tx,
  workflowId: number,
  limit: number | null,
): Promise<void> {
  await tx`
    with old as (
      select max_concurrently_running as old_limit from workflow where id = ${workflowId}
    ), changed as (
      update workflow set max_concurrently_running = ${limit} where id = ${workflowId}
    )
    insert into limit_change (workflow_id, template, old_limit, new_limit)
    select ${workflowId}, null, old_limit, ${limit}::int from old`;
}

/**
 * Sets the limit of a workflow's template (its array, by name) and records the change;
 * returns the array, undefined when the workflow has no such template.
 */
export async function setTemplateLimit(
  tx: Tx,
  workflowId: number,
  template: string,
  limit: number | null,
): Promise<number | undefined> {
  // The old limit is read in the same statement: the snapshot before the update.
  const [row] = await tx<{ id: number }[]>`
    with target as (
      select a.id, a.max_concurrently_running as old_limit
      from task_array a
      join task_template_version v on v.id = a.task_template_version_id
      join task_template t on t.id = v.task_template_id
      where a.workflow_id = ${workflowId} and t.name = ${template}
    ), changed as (
      update task_array a set max_concurrently_running = ${limit}
      from target where a.id = target.id
      returning a.id
    ), history as (
      insert into limit_change (workflow_id, template, old_limit, new_limit)
      select ${workflowId}, ${template}, old_limit, ${limit}::int from target
    )
    select id from changed`;
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

/** Merges attributes into a task's (new values win); undefined when there is no such task. */
export async function addTaskAttributes(
  tx: Tx,
  taskId: number,
  attributes: Record<string, string>,
): Promise<Record<string, string> | undefined> {
  const [row] = await tx<{ attributes: Record<string, string> }[]>`
    update task set attributes = coalesce(attributes, '{}'::jsonb) || ${tx.json(attributes)}
    where id = ${taskId}
    returning attributes`;
  return row?.attributes;
}

/** Whether any instance of the workflow is still out there (queued to a bridge or running). */
export async function hasLiveInstances(tx: Tx, workflowId: number): Promise<boolean> {
  const [row] = await tx<{ found: boolean }[]>`
    select exists (
      select 1 from task where workflow_id = ${workflowId}
        and status in ('QUEUED', 'INSTANTIATING', 'LAUNCHED', 'RUNNING')
    ) as found`;
  return row?.found ?? false;
}

export async function workflowStatus(tx: Tx, workflowId: number): Promise<string | undefined> {
  const [row] = await tx<
    { status: string }[]
  >`select status from workflow where id = ${workflowId}`;
  return row?.status;
}
