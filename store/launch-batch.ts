import type { Sql, TransactionSql } from "postgres";
import { DEFAULT_RESOURCES } from "../core/resources.ts";
import { arraySettings } from "./environment.ts";

type Tx = TransactionSql | Sql;

/** An instance of a stored batch, as its launch message lists it. */
export interface BatchInstance {
  id: number;
  task_id: number;
  step: number;
  attempt: number;
  name: string;
  command: string;
  env?: Record<string, string>;
  working_dir?: string;
}

/**
 * A launch batch as stored: the body of its launch message, less what the publisher
 * adds (the version, the heartbeat interval).
 */
export interface StoredBatch {
  batch_id: number;
  workflow_id: number;
  cluster: string;
  queue: string;
  template: string;
  resources: {
    cores: number;
    memory_bytes: number;
    runtime_seconds: number;
    project: string | null;
  };
  env?: Record<string, string>;
  working_dir?: string;
  instances: BatchInstance[];
}

/**
 * Launch batches rebuilt from the database: for launch (a redelivered task.queued) and
 * the reaper (batches left unpublished). Only instances still INSTANTIATED are included;
 * a batch with none left comes back empty-handed in `done` (nothing to send, mark it
 * published).
 */
export async function loadLaunchBatches(
  sql: Tx,
  batchIds: readonly number[],
): Promise<{ batches: StoredBatch[]; done: number[] }> {
  if (batchIds.length === 0) return { batches: [], done: [] };
  const rows = await sql<
    {
      batch_id: number;
      workflow_id: number;
      cluster: string;
      queue: string;
      template: string;
      cores: number | null;
      memory_bytes: number | null;
      runtime_seconds: number | null;
      project: string | null;
      array_id: number;
      instances: BatchInstance[] | null;
    }[]
  >`
    select b.id as batch_id, b.workflow_id, b.array_id, c.name as cluster, q.name as queue,
      tt.name as template, b.cores,
      b.memory_bytes, b.runtime_seconds, b.project,
      (select json_agg(json_build_object('id', i.id, 'task_id', i.task_id, 'step', i.array_step,
          'attempt', t.attempts, 'name', t.name, 'command', t.command, 'env', t.env,
          'working_dir', t.working_dir) order by i.array_step)
        from task_instance i join task t on t.id = i.task_id
        where i.batch_id = b.id and i.status = any(${["INSTANTIATED"]}::text[])) as instances
    from launch_batch b
    join cluster c on c.id = b.cluster_id
    join queue q on q.id = b.queue_id
    join task_array a on a.id = b.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where b.id = any(${[...batchIds]}::bigint[])
    order by b.id`;
  const batches: StoredBatch[] = [];
  const done: number[] = [];
  const settings = await arraySettings(
    sql,
    rows.map((r) => r.array_id),
  );
  for (const r of rows) {
    if (!r.instances || r.instances.length === 0) {
      done.push(r.batch_id);
      continue;
    }
    batches.push({
      batch_id: r.batch_id,
      workflow_id: r.workflow_id,
      cluster: r.cluster,
      queue: r.queue,
      template: r.template,
      resources: {
        cores: r.cores ?? DEFAULT_RESOURCES.cores,
        memory_bytes: r.memory_bytes ?? DEFAULT_RESOURCES.memory_bytes,
        runtime_seconds: r.runtime_seconds ?? DEFAULT_RESOURCES.runtime_seconds,
        project: r.project,
      },
      ...settings.get(r.array_id),
      instances: r.instances.map(withoutNulls),
    });
  }
  return { batches, done };
}

/** An instance as json_build_object made it: its env and working_dir only when the task has them. */
function withoutNulls(i: BatchInstance): BatchInstance {
  const { env, working_dir, ...rest } = i;
  return { ...rest, ...(env ? { env } : {}), ...(working_dir ? { working_dir } : {}) };
}

/** Batches sent (or with nothing left to send): the reaper leaves them alone from now on. */
export async function markBatchesPublished(sql: Tx, batchIds: readonly number[]): Promise<void> {
  if (batchIds.length === 0) return;
  await sql`
    update launch_batch set published_at = now()
    where id = any(${[...batchIds]}::bigint[]) and published_at is null`;
}
