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
 * The handler loads, decides (decide.ts, pure) and applies.
 */
import type { TransactionSql } from "postgres";
import { Contracts } from "../../bus/contracts.ts";
import { PendingEvents } from "../../bus/events.ts";
import type { Logger } from "../../core/log.ts";
import { INSTANCE_BOUND_TASK } from "../../core/statuses.ts";
import { loadCatalog } from "../../store/catalog.ts";
import {
  adjustTasks,
  type FailingTask,
  failInstances,
  lockFailingTasks,
  requeueTasks,
} from "../../store/retry.ts";
import { moveTasks, sortedIds } from "../../store/task-transition.ts";
import { settleWorkflows } from "../../store/workflow-end.ts";
import { defineFunction } from "../context.ts";
import { refuseForeignReport } from "../owners.ts";
import { type Decisions, decideAll, queuesOf } from "./decide.ts";

export const retry = defineFunction({
  name: "retry",
  concurrency: 2,
  async handle(msg, ctx) {
    await refuseForeignReport(
      ctx,
      msg.actualSubject,
      msg.data.results.map((r) => r.id),
    );
    const byId = new Map(msg.data.results.map((r) => [r.id, r]));
    const results = sortedIds(byId.keys()).map((id) => byId.get(id)!);
    const events = new PendingEvents();
    const wakes = await ctx.sql.begin(async (tx) => {
      const failed = await failInstances(tx, results);
      if (failed.length === 0) return [];
      const kindOf = new Map(failed.map((f) => [f.task_id, f.kind]));
      const tasks = await lockFailingTasks(tx, sortedIds(kindOf.keys()));
      const decisions = decideAll(tasks, kindOf, queuesOf(await loadCatalog(tx)));
      return apply(tx, tasks, decisions, events, ctx.log);
    });
    events.flush(ctx.emit);
    // Retried tasks are ready again and failed ones freed their slots: schedule now.
    // The instances of this message: a redelivery gives the same id, a later run never does.
    const ended = { after: "retry", instance_ids: results.map((r) => r.id) } as const;
    for (const workflowId of wakes) {
      await ctx.publish(Contracts.schedWake, { v: 1, workflow_id: workflowId }, ended);
    }
  },
});

/**
 * The decisions made: tasks moved, events noted, workflows settled. Returns the
 * workflows that may have work to schedule (tasks retried or slots freed) and did not
 * just end.
 */
async function apply(
  tx: TransactionSql,
  tasks: readonly FailingTask[],
  { fatal, again, adjusted }: Decisions,
  events: PendingEvents,
  log: Logger,
): Promise<number[]> {
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
  log.info(
    { fatal: fatalMoved.length, retried: again.length, adjusted: adjusted.length },
    "failed instances decided",
  );
  // Workflows with tasks retried or failed, less those that just ended.
  const over = new Set(ended.map((e) => e.workflow_id));
  const touched = new Set([...retried, ...fatalMoved].map((t) => t.workflow_id));
  return [...touched].filter((wf) => !over.has(wf));
}
