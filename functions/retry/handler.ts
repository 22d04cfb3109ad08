/**
 * retry — decides what happens after an instance failed (the error-retry step).
 *
 * Subscribes: ti.error.
 * Publishes: sched.wake per workflow with tasks to run again (msg id
 *   `wake-retry-<wf>-<digest of the retried task ids>`); events evt.tasks.<wf>,
 *   evt.workflow.<wf> when the workflow ends FAILED.
 * Idempotency: instances live → error statuses is guarded, and only tasks of instances
 *   that moved in this statement are decided on, under their row locks; a redelivered
 *   result changes nothing.
 * Side effects: the instance's error (exit code, message, stderr tail, kind, usage); the
 *   task back to REGISTERING (plain error, lost instance), to ADJUSTING_RESOURCES with
 *   the exceeded resource scaled and maybe a fallback queue (memory / runtime), or to
 *   ERROR_FATAL when its attempts are used up; the workflow FAILED when nothing more
 *   can run (store/workflow-end.ts); audit rows.
 */
import { createHash } from "node:crypto";
import { PendingEvents } from "../../bus/events.ts";
import { defineFunction } from "../../bus/runtime.ts";
import { TiError } from "../../bus/schemas.ts";
import { Subjects } from "../../bus/subjects.ts";
import { loadCatalog, type QueueRow } from "../../store/catalog.ts";
import { INSTANCE_BOUND_TASK } from "../../store/statuses.ts";
import { moveTasks, sortedIds } from "../../store/task-transition.ts";
import { settleWorkflows } from "../../store/workflow-end.ts";
import { adjust } from "./scale.ts";
import {
  type Adjustment,
  adjustTasks,
  failInstances,
  lockFailingTasks,
  requeueTasks,
} from "./sql.ts";

function wakeMsgId(workflowId: number, taskIds: readonly number[]): string {
  const digest = createHash("sha256").update(taskIds.join(",")).digest("hex").slice(0, 16);
  return `wake-retry-${workflowId}-${digest}`;
}

export const retry = defineFunction({
  name: "retry",
  schemas: { [Subjects.tiError]: TiError },
  concurrency: 2,
  async handle(msg, ctx) {
    const byId = new Map(msg.data.results.map((r) => [r.id, r]));
    const results = sortedIds(byId.keys()).map((id) => byId.get(id)!);
    const events = new PendingEvents();
    const wakes = await ctx.sql.begin(async (tx) => {
      const failed = await failInstances(tx, results);
      if (failed.length === 0) return [];
      const kindOf = new Map(failed.map((f) => [f.task_id, f.kind]));
      const tasks = await lockFailingTasks(tx, sortedIds(kindOf.keys()));
      const catalog = await loadCatalog(tx);
      const queues = new Map<number, QueueRow & { cluster_id: number }>();
      for (const cluster of catalog.values()) {
        for (const q of cluster.queues) queues.set(q.id, { ...q, cluster_id: cluster.id });
      }

      const fatal: number[] = [];
      const again: number[] = [];
      const adjusted: Adjustment[] = [];
      for (const t of tasks) {
        const kind = kindOf.get(t.id)!;
        if (t.attempts >= t.max_attempts) {
          fatal.push(t.id);
        } else if (kind === "memory" || kind === "runtime") {
          const queue = queues.get(t.queue_id)!;
          const fallbacks = (t.fallback_queues ?? [])
            .map((name) =>
              [...queues.values()].find((q) => q.cluster_id === t.cluster_id && q.name === name),
            )
            .filter((q): q is QueueRow & { cluster_id: number } => q !== undefined);
          const next = adjust(
            {
              memory_bytes: t.memory_bytes,
              runtime_seconds: t.runtime_seconds,
              cores: t.cores,
              queue,
            },
            kind,
            t.resource_scales,
            t.attempts,
            fallbacks,
          );
          adjusted.push({
            id: t.id,
            queue_id: next.queue.id,
            memory_bytes: next.memory_bytes,
            runtime_seconds: next.runtime_seconds,
          });
        } else {
          again.push(t.id);
        }
      }
      const fatalMoved = await moveTasks(tx, fatal, INSTANCE_BOUND_TASK, "ERROR_FATAL");
      await adjustTasks(tx, adjusted);
      await requeueTasks(tx, again);
      events.tasks("ERROR_FATAL", fatalMoved);
      const workflowOf = new Map(tasks.map((t) => [t.id, t.workflow_id]));
      const retried = [...again, ...adjusted.map((a) => a.id)].map((id) => ({
        id,
        workflow_id: workflowOf.get(id)!,
      }));
      events.tasks(
        "REGISTERING",
        again.map((id) => ({ id, workflow_id: workflowOf.get(id)! })),
      );
      events.tasks(
        "ADJUSTING_RESOURCES",
        adjusted.map((a) => ({ id: a.id, workflow_id: workflowOf.get(a.id)! })),
      );
      const ended = await settleWorkflows(tx, [...new Set(tasks.map((t) => t.workflow_id))]);
      for (const e of ended) events.workflow(e.workflow_id, e.status);
      ctx.log.info(
        { fatal: fatalMoved.length, retried: again.length, adjusted: adjusted.length },
        "failed instances decided",
      );
      const byWorkflow = new Map<number, number[]>();
      for (const t of [...retried, ...fatalMoved]) {
        byWorkflow.set(t.workflow_id, [...(byWorkflow.get(t.workflow_id) ?? []), t.id]);
      }
      const over = new Set(ended.map((e) => e.workflow_id));
      return [...byWorkflow].filter(([wf]) => !over.has(wf));
    });
    events.flush(ctx.emit);
    // Retried tasks are ready again and failed ones freed their slots: schedule now.
    for (const [workflowId, ids] of wakes) {
      await ctx.publish(
        Subjects.schedWake,
        { v: 1, workflow_id: workflowId },
        { msgID: wakeMsgId(workflowId, ids) },
      );
    }
  },
});
