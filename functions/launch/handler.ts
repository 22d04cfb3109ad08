import { PendingEvents } from "../../bus/events.ts";
import type { LaunchBatch } from "../../bus/schemas.ts";
import { Histogram, registry } from "../../core/metrics.ts";
import { type ArraySettings, arraySettings } from "../../store/environment.ts";
import {
  allocateBatchIds,
  type BatchRow,
  type InstanceRow,
  insertInstances,
  instantiateTasks,
  unpublishedBatchesOf,
} from "../../store/launch.ts";
import { loadLaunchBatches, markBatchesPublished } from "../../store/launch-batch.ts";
import { currentLimits } from "../../store/limits.ts";
import { sortedIds } from "../../store/task-transition.ts";
import { defineFunction, type FunctionContext } from "../context.ts";
import { publishLaunches } from "../owners.ts";
import { type BatchCaps, DEFAULT_BATCH_CAPS, planBatches } from "./batching.ts";

export interface LaunchOptions extends Partial<BatchCaps> {
  /** how often bridges must report live instances (LaunchBatch.heartbeat_seconds) */
  heartbeatSeconds?: number;
  /** heartbeats missed before an instance is lost */
  missedHeartbeats?: number;
  /** added to a new instance's report-by date on top of the missed heartbeats */
  launchSlackSeconds?: number;
}

interface Resolved {
  caps: BatchCaps;
  heartbeatSeconds: number;
  graceSeconds: number;
}

function resolve(options: LaunchOptions): Resolved {
  const heartbeatSeconds = options.heartbeatSeconds ?? 30;
  return {
    caps: {
      maxCount: options.maxCount ?? DEFAULT_BATCH_CAPS.maxCount,
      maxBytes: options.maxBytes ?? DEFAULT_BATCH_CAPS.maxBytes,
    },
    heartbeatSeconds,
    graceSeconds:
      heartbeatSeconds * (options.missedHeartbeats ?? 3) + (options.launchSlackSeconds ?? 60),
  };
}

interface Instantiated {
  messages: LaunchBatch[];
  /** batches created and already settled (every instance of them was skipped) */
  empty: number[];
  moved: number;
  events: PendingEvents;
}

/** The transaction: tasks → INSTANTIATING, batches and instances created, messages built. */
export async function instantiate(
  ctx: Pick<FunctionContext, "sql" | "log">,
  workflowId: number,
  taskIds: readonly number[],
  r: Resolved,
): Promise<Instantiated> {
  const events = new PendingEvents();
  return ctx.sql.begin(async (tx) => {
    const moved = await instantiateTasks(tx, taskIds);
    if (moved.length === 0) return { messages: [], empty: [], moved: 0, events };
    events.tasks("INSTANTIATING", moved);
    const settings = await arraySettings(
      tx,
      moved.map((m) => m.array_id),
    );
    const plan = planBatches(moved, r.caps, (arrayId) => settingsBytes(settings.get(arrayId)));
    const batchIds = await allocateBatchIds(tx, plan.length);
    const batches: BatchRow[] = [];
    const instances: InstanceRow[] = [];
    plan.forEach((b, i) => {
      const first = b.rows[0]!;
      const id = batchIds[i]!;
      batches.push({
        id,
        workflow_id: first.workflow_id,
        cluster_id: first.cluster_id,
        queue_id: first.queue_id,
        array_id: first.array_id,
        cores: first.cores,
        memory_bytes: first.memory_bytes,
        runtime_seconds: first.runtime_seconds,
        project: first.project,
        instance_count: b.rows.length,
      });
      b.rows.forEach((row, step) => {
        instances.push({
          task_id: row.id,
          workflow_id: row.workflow_id,
          batch_id: id,
          array_step: step,
          memory_requested: row.memory_bytes,
          runtime_requested: row.runtime_seconds,
        });
      });
    });
    const created = await insertInstances(tx, instances, r.graceSeconds, batches);
    const instanceOf = new Map(created.map((c) => [c.task_id, c.id]));
    if (created.length < instances.length) {
      ctx.log.warn(
        { workflow: workflowId, skipped: instances.length - created.length },
        "tasks already had a live instance; none created for them",
      );
    }
    const messages: LaunchBatch[] = [];
    const empty: number[] = [];
    // The bridge holds the workflow's limits from here on (and from limit orders).
    const limits = await currentLimits(tx, workflowId);
    plan.forEach((b, i) => {
      const id = batchIds[i]!;
      const first = b.rows[0]!;
      const entries = b.rows.flatMap((row, step) => {
        const instanceId = instanceOf.get(row.id);
        return instanceId === undefined
          ? []
          : [
              {
                id: instanceId,
                task_id: row.id,
                step,
                attempt: row.attempts,
                name: row.name,
                command: row.command,
                ...(row.env ? { env: row.env } : {}),
                ...(row.working_dir ? { working_dir: row.working_dir } : {}),
              },
            ];
      });
      if (entries.length === 0) {
        empty.push(id);
        return;
      }
      messages.push({
        v: 1,
        batch_id: id,
        workflow_id: first.workflow_id,
        cluster: first.cluster,
        queue: first.queue,
        template: first.template,
        resources: {
          cores: first.cores,
          memory_bytes: first.memory_bytes,
          runtime_seconds: first.runtime_seconds,
          project: first.project,
        },
        heartbeat_seconds: r.heartbeatSeconds,
        ...settings.get(first.array_id),
        ...(limits ? { limits } : {}),
        instances: entries,
      });
    });
    // Nothing to send for these: settled in the same transaction.
    await markBatchesPublished(tx, empty);
    return { messages, empty, moved: moved.length, events };
  });
}

function settingsBytes(s: ArraySettings | undefined): number {
  if (!s) return 0;
  return (
    (s.env ? Buffer.byteLength(JSON.stringify(s.env)) + 8 : 0) +
    (s.working_dir ? Buffer.byteLength(JSON.stringify(s.working_dir)) + 16 : 0)
  );
}

/** Instances per launch batch published (its sum: instances sent to bridges). */
const batchSize = new Histogram({
  name: "drover_launch_batch_size",
  help: "Task instances per launch batch published, by cluster",
  labelNames: ["cluster"] as const,
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  registers: [registry],
});

/**
 * Publishes batches on `launch.<cluster>.<owner>` (msg id by batch, so a re-publish
 * inside the dedupe window is stored once), then records them published. Batches
 * published before a failing one are recorded before the error is rethrown.
 */
async function publishBatches(
  ctx: FunctionContext,
  messages: readonly LaunchBatch[],
): Promise<void> {
  await publishLaunches(ctx, messages, async (ids) => {
    const sent = new Set(ids);
    for (const m of messages) {
      if (sent.has(m.batch_id)) batchSize.observe({ cluster: m.cluster }, m.instances.length);
    }
    await markBatchesPublished(ctx.sql, ids);
  });
}

export function createLaunch(options: LaunchOptions = {}) {
  const r = resolve(options);
  return defineFunction({
    name: "launch",
    concurrency: 4,
    async handle(msg, ctx) {
      const workflowId = msg.data.workflow_id;
      const log = ctx.log.child({ workflow: workflowId });
      const taskIds = sortedIds(msg.data.task_ids);
      const done = await instantiate({ sql: ctx.sql, log }, workflowId, taskIds, r);
      done.events.flush(ctx.emit);
      const messages = done.messages;
      if (done.moved < taskIds.length) {
        // Some tasks had moved on already: maybe an earlier delivery of this message
        // committed and then died before publishing its batches.
        const created = new Set(messages.map((m) => m.batch_id));
        const stale = (await unpublishedBatchesOf(ctx.sql, taskIds)).filter(
          (id) => !created.has(id),
        );
        if (stale.length > 0) {
          const again = await loadLaunchBatches(ctx.sql, stale);
          await markBatchesPublished(ctx.sql, again.done);
          const limits =
            again.batches.length > 0 ? await currentLimits(ctx.sql, workflowId) : undefined;
          for (const b of again.batches) {
            messages.push({
              v: 1,
              ...b,
              heartbeat_seconds: r.heartbeatSeconds,
              ...(limits ? { limits } : {}),
            });
          }
          log.info({ batches: again.batches.length }, "re-publishing unpublished launch batches");
        }
      }
      await publishBatches(ctx, messages);
      if (done.moved > 0) {
        log.debug({ tasks: done.moved, batches: messages.length }, "tasks launched");
      }
    },
  });
}

export const launch = createLaunch();
