/**
 * complete — records successful results and releases what depended on them.
 *
 * Subscribes: ti.done.
 * Publishes: sched.wake per workflow that had tasks finish and did not end, when that
 *   made downstream tasks ready or freed slots under a workflow or array limit, msg id `wake-done-<wf>-<digest of its done task ids>`.
 *   Events: evt.tasks.<wf> (DONE), evt.workflow.<wf> (DONE / FAILED).
 * Idempotency: instances live → DONE is guarded, and only tasks of instances that moved
 *   in this statement move to DONE and release their downstream tasks, so a redelivered
 *   result changes nothing (exactly-once decrements). One transaction for all of it.
 * Side effects: task_instance DONE (exit code, usage, node); task DONE; downstream
 *   pending_upstream; workflow DONE/FAILED and its run DONE/ERROR (store/workflow-end.ts);
 *   audit rows.
 */
import { Contracts } from "../../bus/contracts.ts";
import { PendingEvents } from "../../bus/events.ts";
import { INSTANCE_BOUND_TASK } from "../../core/statuses.ts";
import { fillMissingUsage, finishAndMoveTasks } from "../../store/complete.ts";
import { releaseDownstreamAndLock } from "../../store/downstream.ts";
import { sortedIds } from "../../store/task-transition.ts";
import { judgeWorkflows } from "../../store/workflow-end.ts";
import { defineFunction } from "../context.ts";
import { refuseForeignReport } from "../owners.ts";

export const complete = defineFunction({
  name: "complete",
  concurrency: 4,
  async handle(msg, ctx) {
    await refuseForeignReport(
      ctx,
      msg.actualSubject,
      msg.data.results.map((r) => r.id),
    );
    const byId = new Map(msg.data.results.map((r) => [r.id, r]));
    const results = sortedIds(byId.keys()).map((id) => byId.get(id)!);
    const events = new PendingEvents();
    let settledCount = 0;
    const wakes = await ctx.sql.begin(async (tx) => {
      // Three statements: instances and tasks DONE with the downstream rows locked;
      // downstream released with the live workflows locked; the end-of-workflow verdict.
      const done = await finishAndMoveTasks(tx, results, INSTANCE_BOUND_TASK);
      settledCount = done.length;
      events.tasks("DONE", done);
      if (done.length === 0) return [];
      const { released, locked } = await releaseDownstreamAndLock(
        tx,
        done.map((t) => t.id),
        done.map((t) => t.workflow_id),
      );
      const ended = await judgeWorkflows(
        tx,
        locked.map((w) => w.id),
      );
      for (const e of ended) events.workflow(e.workflow_id, e.status);
      const over = new Set(ended.map((e) => e.workflow_id));
      const byWorkflow = new Map<number, number[]>();
      for (const t of done) {
        if (over.has(t.workflow_id)) continue;
        const list = byWorkflow.get(t.workflow_id);
        if (list) list.push(t.id);
        else byWorkflow.set(t.workflow_id, [t.id]);
      }
      // A wake is for tasks made ready, or for slots freed under a workflow or array
      // limit. A workflow without limits that got no task ready gives schedule nothing.
      const wanted = new Set([
        ...released.filter((r) => r.ready > 0).map((r) => r.workflow_id),
        ...locked.filter((w) => w.limited).map((w) => w.id),
      ]);
      return [...byWorkflow]
        .filter(([workflowId]) => wanted.has(workflowId))
        .map(([workflowId, ids]) => ({ workflowId, ids }));
    });
    events.flush(ctx.emit);
    if (settledCount < results.length) {
      // Reports for instances that had ended already: keep what they add.
      await fillMissingUsage(ctx.sql, results);
    }
    // By the instances of this message: a redelivery wakes once, a later run again.
    const ended = { after: "done", instance_ids: results.map((r) => r.id) } as const;
    for (const w of wakes) {
      await ctx.publish(Contracts.schedWake, { v: 1, workflow_id: w.workflowId }, ended);
    }
    if (wakes.length === 0 && results.length > 0) {
      ctx.log.debug({ results: results.length }, "results for instances already ended");
    }
  },
});
