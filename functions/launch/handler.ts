/**
 * launch — turns queued tasks into task instances, grouped into launch batches.
 *
 * Subscribes: task.queued.
 * Publishes: launch.<cluster>, one message per batch (msg id `launch-<batch id>`), after
 *   the commit; then sets launch_batch.published_at. Events: evt.tasks.<wf>
 *   (INSTANTIATING).
 * Idempotency: the QUEUED → INSTANTIATING transition is guarded, so a redelivered message
 *   creates nothing; it re-publishes the batches of its tasks that are still unpublished
 *   (a first delivery that committed, then died before publishing). The reaper does the
 *   same for batches whose message never came back. One live instance per task is also
 *   enforced by task_instance_one_live_idx.
 * Side effects: task INSTANTIATING (attempts + 1), task_instance INSTANTIATED, launch_batch
 *   rows, audit rows.
 */
import { PendingEvents } from "../../bus/events.ts";
import { defineFunction, type HandlerContext } from "../../bus/runtime.ts";
import { type LaunchBatch, TaskQueued } from "../../bus/schemas.ts";
import { Subjects } from "../../bus/subjects.ts";
import {
  loadLaunchBatches,
  markBatchesPublished,
  publishLaunchBatches,
} from "../../store/launch-batch.ts";
import { sortedIds } from "../../store/task-transition.ts";
import { type BatchCaps, DEFAULT_BATCH_CAPS, planBatches } from "./batching.ts";
import {
  allocateBatchIds,
  type BatchRow,
  type InstanceRow,
  insertInstances,
  instantiateTasks,
  unpublishedBatchesOf,
} from "./sql.ts";

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
  ctx: Pick<HandlerContext, "sql" | "log">,
  workflowId: number,
  taskIds: readonly number[],
  r: Resolved,
): Promise<Instantiated> {
  const events = new PendingEvents();
  return ctx.sql.begin(async (tx) => {
    const moved = await instantiateTasks(tx, taskIds);
    if (moved.length === 0) return { messages: [], empty: [], moved: 0, events };
    events.tasks("INSTANTIATING", moved);
    const plan = planBatches(moved, r.caps);
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
        resources: {
          cores: first.cores,
          memory_bytes: first.memory_bytes,
          runtime_seconds: first.runtime_seconds,
          project: first.project,
        },
        heartbeat_seconds: r.heartbeatSeconds,
        instances: entries,
      });
    });
    // Nothing to send for these: settled in the same transaction.
    await markBatchesPublished(tx, empty);
    return { messages, empty, moved: moved.length, events };
  });
}

export function createLaunch(options: LaunchOptions = {}) {
  const r = resolve(options);
  return defineFunction({
    name: "launch",
    schemas: { [Subjects.taskQueued]: TaskQueued },
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
          const again = await loadLaunchBatches(ctx.sql, stale, r.heartbeatSeconds);
          await markBatchesPublished(ctx.sql, again.done);
          messages.push(...again.messages);
          log.info({ batches: again.messages.length }, "re-publishing unpublished launch batches");
        }
      }
      await publishLaunchBatches(ctx.sql, ctx.publish, messages);
      if (done.moved > 0) {
        log.debug({ tasks: done.moved, batches: messages.length }, "tasks launched");
      }
    },
  });
}

export const launch = createLaunch();
