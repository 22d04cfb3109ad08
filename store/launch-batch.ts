import type { Sql, TransactionSql } from "postgres";
import type { LaunchBatch } from "../bus/schemas.ts";
import { launchSubject } from "../bus/subjects.ts";

type Tx = TransactionSql | Sql;

/**
 * Launch batches as messages, rebuilt from the database: for launch (a redelivered
 * task.queued) and the reaper (batches left unpublished). Only instances still
 * INSTANTIATED are included; a batch with none left comes back empty-handed in `done`
 * (nothing to send, mark it published).
 */
export async function loadLaunchBatches(
  sql: Tx,
  batchIds: readonly number[],
  heartbeatSeconds: number,
): Promise<{ messages: LaunchBatch[]; done: number[] }> {
  if (batchIds.length === 0) return { messages: [], done: [] };
  const rows = await sql<
    {
      batch_id: number;
      workflow_id: number;
      cluster: string;
      queue: string;
      cores: number | null;
      memory_bytes: number | null;
      runtime_seconds: number | null;
      project: string | null;
      instances: LaunchBatch["instances"] | null;
    }[]
  >`
    select b.id as batch_id, b.workflow_id, c.name as cluster, q.name as queue, b.cores,
      b.memory_bytes, b.runtime_seconds, b.project,
      (select json_agg(json_build_object('id', i.id, 'task_id', i.task_id, 'step', i.array_step,
          'attempt', t.attempts, 'name', t.name, 'command', t.command) order by i.array_step)
        from task_instance i join task t on t.id = i.task_id
        where i.batch_id = b.id and i.status = any(${["INSTANTIATED"]}::text[])) as instances
    from launch_batch b
    join cluster c on c.id = b.cluster_id
    join queue q on q.id = b.queue_id
    where b.id = any(${[...batchIds]}::bigint[])
    order by b.id`;
  const messages: LaunchBatch[] = [];
  const done: number[] = [];
  for (const r of rows) {
    if (!r.instances || r.instances.length === 0) {
      done.push(r.batch_id);
      continue;
    }
    messages.push({
      v: 1,
      batch_id: r.batch_id,
      workflow_id: r.workflow_id,
      cluster: r.cluster,
      queue: r.queue,
      resources: {
        cores: r.cores ?? 1,
        memory_bytes: r.memory_bytes ?? 1024 ** 3,
        runtime_seconds: r.runtime_seconds ?? 3600,
        project: r.project,
      },
      heartbeat_seconds: heartbeatSeconds,
      instances: r.instances,
    });
  }
  return { messages, done };
}

export async function markBatchesPublished(sql: Tx, batchIds: readonly number[]): Promise<void> {
  if (batchIds.length === 0) return;
  await sql`
    update launch_batch set published_at = now()
    where id = any(${[...batchIds]}::bigint[]) and published_at is null`;
}

export const launchMsgId = (batchId: number) => `launch-${batchId}`;

type PublishFn = (subject: string, data: unknown, options?: { msgID?: string }) => Promise<void>;

/**
 * Publishes batches on `launch.<cluster>` (msg id `launch-<batch id>`, so a re-publish
 * inside the dedupe window is stored once), then records them published. Batches
 * published before a failing one are recorded before the error is rethrown.
 */
export async function publishLaunchBatches(
  sql: Tx,
  publish: PublishFn,
  messages: readonly LaunchBatch[],
): Promise<void> {
  const published: number[] = [];
  try {
    for (const m of messages) {
      await publish(launchSubject(m.cluster), m, { msgID: launchMsgId(m.batch_id) });
      published.push(m.batch_id);
    }
  } finally {
    await markBatchesPublished(sql, published);
  }
}
