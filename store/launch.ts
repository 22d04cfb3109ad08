import type { Sql, TransactionSql } from "postgres";
import { DEFAULT_RESOURCES } from "../core/resources.ts";

/** The statements of a launch, each small and named for what it does. */

type Tx = TransactionSql | Sql;

/** A task just instantiated, with what its launch batch and message need. */
export interface LaunchRow {
  /** task id */
  id: number;
  workflow_id: number;
  array_id: number;
  cluster_id: number;
  cluster: string;
  queue_id: number;
  queue: string;
  cores: number;
  memory_bytes: number;
  runtime_seconds: number;
  project: string | null;
  /** the template's name (readable job names) */
  template: string;
  name: string;
  command: string;
  /** attempts including this one */
  attempts: number;
  /** the task's own env and working folder (null: its template's) */
  env: Record<string, string> | null;
  working_dir: string | null;
}

/**
 * QUEUED tasks → INSTANTIATING, attempts + 1, audited; returns what their launch needs.
 * Guarded: tasks no longer QUEUED (a redelivery, a stop) are skipped. (Statuses as a
 * parameter, no workflow condition: see store/task-transition.ts.)
 */
export async function instantiateTasks(tx: Tx, ids: readonly number[]): Promise<LaunchRow[]> {
  if (ids.length === 0) return [];
  return tx<LaunchRow[]>`
    with moved as (
      update task set status = 'INSTANTIATING', attempts = attempts + 1, status_at = now()
      where id = any(${[...ids]}::bigint[]) and status = any(${["QUEUED"]}::text[])
      returning id, workflow_id, array_id, cluster_id, queue_id, cores, memory_bytes,
        runtime_seconds, project, name, command, attempts, env, working_dir
    ), audit as (
      insert into task_status_audit (task_id, workflow_id, status)
      select id, workflow_id, 'INSTANTIATING' from moved
    )
    select m.id, m.workflow_id, m.array_id, m.cluster_id, c.name as cluster, m.queue_id,
      q.name as queue,
      coalesce(m.cores, ${DEFAULT_RESOURCES.cores})::int as cores,
      coalesce(m.memory_bytes, ${DEFAULT_RESOURCES.memory_bytes})::bigint as memory_bytes,
      coalesce(m.runtime_seconds, ${DEFAULT_RESOURCES.runtime_seconds})::int as runtime_seconds,
      m.project, tt.name as template, m.name, m.command, m.attempts::int as attempts, m.env,
      m.working_dir
    from moved m
    join cluster c on c.id = m.cluster_id
    join queue q on q.id = m.queue_id
    join task_array a on a.id = m.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    order by m.id`;
}

/** `count` launch_batch ids, ascending, taken before the rows exist so instances can name them. */
export async function allocateBatchIds(tx: Tx, count: number): Promise<number[]> {
  if (count === 0) return [];
  const rows = await tx<{ id: number }[]>`
    select nextval(pg_get_serial_sequence('launch_batch', 'id')) as id
    from generate_series(1, ${count}::int)`;
  return rows.map((r) => r.id);
}

export interface BatchRow {
  id: number;
  workflow_id: number;
  cluster_id: number;
  queue_id: number;
  array_id: number;
  cores: number;
  memory_bytes: number;
  runtime_seconds: number;
  project: string | null;
  instance_count: number;
}

export async function insertBatches(tx: Tx, batches: readonly BatchRow[]): Promise<void> {
  if (batches.length === 0) return;
  const col = <K extends keyof BatchRow>(k: K) => batches.map((b) => b[k]);
  await tx`
    insert into launch_batch (id, workflow_id, cluster_id, queue_id, array_id, cores, memory_bytes,
      runtime_seconds, project, instance_count)
    overriding system value
    select * from unnest(${col("id")}::bigint[], ${col("workflow_id")}::bigint[],
      ${col("cluster_id")}::smallint[], ${col("queue_id")}::int[], ${col("array_id")}::bigint[],
      ${col("cores")}::smallint[], ${col("memory_bytes")}::bigint[], ${col("runtime_seconds")}::int[],
      ${col("project")}::text[], ${col("instance_count")}::int[])`;
}

export interface InstanceRow {
  task_id: number;
  workflow_id: number;
  batch_id: number;
  array_step: number;
  memory_requested: number;
  runtime_requested: number;
}

/**
 * Task instances, INSTANTIATED, audited, with a report-by date `graceSeconds` ahead (the
 * bridge has that long to say it launched them). The unique index on live instances
 * (task_instance_one_live_idx) turns a second live instance of a task into a skipped row,
 * not an error: the caller launches only the instances returned. `batches` (the rows the
 * instances name) are inserted in the same statement.
 */
export async function insertInstances(
  tx: Tx,
  rows: readonly InstanceRow[],
  graceSeconds: number,
  batches: readonly BatchRow[] = [],
): Promise<{ id: number; task_id: number }[]> {
  if (rows.length === 0) {
    await insertBatches(tx, batches);
    return [];
  }
  const col = <K extends keyof InstanceRow>(k: K) => rows.map((r) => r[k]);
  const bcol = <K extends keyof BatchRow>(k: K) => batches.map((b) => b[k]);
  // The batches go in with their instances, in the same statement (one round trip).
  return tx<{ id: number; task_id: number }[]>`
    with batches as (
      insert into launch_batch (id, workflow_id, cluster_id, queue_id, array_id, cores,
        memory_bytes, runtime_seconds, project, instance_count)
      overriding system value
      select * from unnest(${bcol("id")}::bigint[], ${bcol("workflow_id")}::bigint[],
        ${bcol("cluster_id")}::smallint[], ${bcol("queue_id")}::int[], ${bcol("array_id")}::bigint[],
        ${bcol("cores")}::smallint[], ${bcol("memory_bytes")}::bigint[],
        ${bcol("runtime_seconds")}::int[], ${bcol("project")}::text[],
        ${bcol("instance_count")}::int[])
    ), created as (
      insert into task_instance (task_id, workflow_id, batch_id, array_step, status,
        memory_requested, runtime_requested, report_by)
      select d.task_id, d.workflow_id, d.batch_id, d.array_step, 'INSTANTIATED',
        d.memory_requested, d.runtime_requested, now() + make_interval(secs => ${graceSeconds})
      from unnest(${col("task_id")}::bigint[], ${col("workflow_id")}::bigint[],
        ${col("batch_id")}::bigint[], ${col("array_step")}::int[],
        ${col("memory_requested")}::bigint[], ${col("runtime_requested")}::int[])
        as d (task_id, workflow_id, batch_id, array_step, memory_requested, runtime_requested)
      order by d.batch_id, d.array_step
      on conflict (task_id) where status in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING')
        do nothing
      returning id, task_id
    ), audit as (
      insert into task_instance_status_audit (task_instance_id, status)
      select id, 'INSTANTIATED' from created
    )
    select id, task_id from created order by id`;
}

/**
 * Unpublished batches still waiting with instances of these tasks: a redelivered
 * task.queued whose first delivery committed but did not get to publish.
 */
export async function unpublishedBatchesOf(tx: Tx, taskIds: readonly number[]): Promise<number[]> {
  if (taskIds.length === 0) return [];
  const rows = await tx<{ id: number }[]>`
    select distinct b.id
    from task_instance i join launch_batch b on b.id = i.batch_id
    where i.task_id = any(${[...taskIds]}::bigint[])
      and i.status = any(${["INSTANTIATED"]}::text[])
      and b.published_at is null
    order by b.id`;
  return rows.map((r) => r.id);
}
