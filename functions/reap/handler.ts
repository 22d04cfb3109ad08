/**
 * reap — the sweeper that finds what fell between the cracks.
 *
 * Subscribes: bridge.heartbeat.* (records when each cluster's bridge was last heard of).
 * Timer: a sweep every few seconds, run by one replica at a time
 *   (`pg_try_advisory_xact_lock`): instances past their report-by date are lost
 *   (published as `ti.error` kind `lost`, so retry decides, plus a kill order in case
 *   they still run somewhere); launch batches never published are re-published; tasks
 *   QUEUED whose task.queued was lost are queued again; workflows past their timeout are
 *   HALTED with their instances killed; silent bridges are logged.
 * Idempotency: every effect is a guarded transition downstream or a publish with a
 *   deterministic msg id; sweeping twice is harmless.
 */
import { createHash } from "node:crypto";
import { PendingEvents } from "../../bus/events.ts";
import { defineFunction, type TimerContext } from "../../bus/runtime.ts";
import { BridgeHeartbeat, type TiError } from "../../bus/schemas.ts";
import { killSubject, Subjects } from "../../bus/subjects.ts";
import { haltTasks, type KillList, setWorkflowStatus } from "../../store/halt.ts";
import {
  loadLaunchBatches,
  markBatchesPublished,
  publishLaunchBatches,
} from "../../store/launch-batch.ts";
import {
  lostInstances,
  recordBridgeHeartbeat,
  setWorkflowError,
  silentBridges,
  stuckQueued,
  timedOutWorkflows,
  trySweepLock,
  unpublishedBatches,
} from "./sql.ts";

export interface ReapOptions {
  sweepMs?: number;
  heartbeatSeconds?: number;
  /** a batch or queued task is stuck when left this long */
  stuckSeconds?: number;
  /** a bridge is silent after this long without a heartbeat */
  silentBridgeSeconds?: number;
}

export interface SweepReport {
  swept: boolean;
  lost: number;
  republished: number;
  requeued: number;
  timedOut: number[];
}

const digest = (ids: readonly number[]) =>
  createHash("sha256").update(ids.join(",")).digest("hex").slice(0, 16);

export async function sweep(ctx: TimerContext, options: ReapOptions = {}): Promise<SweepReport> {
  const heartbeatSeconds = options.heartbeatSeconds ?? 30;
  const stuckSeconds = options.stuckSeconds ?? 60;
  const events = new PendingEvents();
  const found = await ctx.sql.begin(async (tx) => {
    if (!(await trySweepLock(tx))) return null;
    const lost = await lostInstances(tx, 2000);
    const batchIds = await unpublishedBatches(tx, stuckSeconds, 100);
    const batches = await loadLaunchBatches(tx, batchIds, heartbeatSeconds);
    await markBatchesPublished(tx, batches.done);
    const queued = await stuckQueued(tx, stuckSeconds, 20_000);
    const kills: KillList[] = [];
    const timedOut: number[] = [];
    for (const wf of await timedOutWorkflows(tx)) {
      kills.push(...(await haltTasks(tx, wf.id)));
      await setWorkflowStatus(tx, wf.id, "HALTED", "STOPPED");
      await setWorkflowError(
        tx,
        wf.id,
        `stopped: the workflow ran longer than its timeout of ${wf.timeout_seconds} s`,
      );
      events.workflow(wf.id, "HALTED");
      timedOut.push(wf.id);
    }
    for (const b of await silentBridges(tx, Math.max(60, heartbeatSeconds * 3))) {
      ctx.log.warn(
        { cluster: b.name, last: b.heartbeat_at, live: b.live },
        "bridge silent while instances are live",
      );
    }
    return { lost, batches: batches.messages, queued, kills, timedOut };
  });
  if (!found) return { swept: false, lost: 0, republished: 0, requeued: 0, timedOut: [] };
  events.flush(ctx.emit);

  // Lost instances: one error per instance, decided by retry like any failure.
  for (let i = 0; i < found.lost.length; i += 500) {
    const chunk = found.lost.slice(i, i + 500);
    const results: TiError["results"] = chunk.map((l) => ({
      id: l.id,
      kind: "lost",
      message: `lost: no report from the ${l.cluster} bridge by ${l.report_by.toISOString()}`,
    }));
    await ctx.publish(
      Subjects.tiError,
      { v: 1, results },
      { msgID: `lost-${digest(chunk.map((l) => l.id))}` },
    );
  }
  const byCluster = new Map<string, number[]>();
  for (const l of found.lost) byCluster.set(l.cluster, [...(byCluster.get(l.cluster) ?? []), l.id]);
  for (const k of found.kills)
    byCluster.set(k.cluster, [...(byCluster.get(k.cluster) ?? []), ...k.instance_ids]);
  for (const [cluster, ids] of byCluster) {
    await ctx.publish(killSubject(cluster), { v: 1, instance_ids: ids, reason: "reaped" });
  }
  await publishLaunchBatches(ctx.sql, ctx.publish, found.batches);
  for (const q of found.queued) {
    for (let i = 0; i < q.ids.length; i += 5000) {
      const ids = q.ids.slice(i, i + 5000);
      // A minute bucket in the id: a later sweep may queue them again if this was lost too.
      const minute = Math.floor(Date.now() / 60_000);
      await ctx.publish(
        Subjects.taskQueued,
        { v: 1, workflow_id: q.workflow_id, task_ids: ids },
        { msgID: `requeued-${digest(ids)}-${minute}` },
      );
    }
  }
  const report = {
    swept: true,
    lost: found.lost.length,
    republished: found.batches.length,
    requeued: found.queued.reduce((n, q) => n + q.ids.length, 0),
    timedOut: found.timedOut,
  };
  if (report.lost + report.republished + report.requeued + report.timedOut.length > 0) {
    ctx.log.info(report, "sweep found work");
  }
  return report;
}

export function createReap(options: ReapOptions = {}) {
  return defineFunction({
    name: "reap",
    schemas: { [`${Subjects.bridgeHeartbeat}.*`]: BridgeHeartbeat },
    async handle(msg, ctx) {
      await recordBridgeHeartbeat(ctx.sql, msg.data.cluster);
    },
    timers: [
      {
        name: "sweep",
        everyMs: options.sweepMs ?? 5000,
        run: (ctx) => sweep(ctx, options).then(() => {}),
      },
    ],
  });
}

export const reap = createReap();
