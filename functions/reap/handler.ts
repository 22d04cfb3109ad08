/**
 * reap — the sweeper that finds what fell between the cracks.
 *
 * Subscribes: bridge.heartbeat.<cluster>.<owner> (records when each cluster's bridge was
 *   last heard of; makes the owner's streams and consumers for the cluster).
 * Timer: a sweep every few seconds, run by one replica at a time
 *   (`pg_try_advisory_xact_lock`): instances past their report-by date are lost
 *   (published as `ti.error` kind `lost`, so retry decides, plus a kill order in case
 *   they still run somewhere); launch batches never published are re-published; tasks
 *   QUEUED whose task.queued was lost are queued again; workflows past their timeout are
 *   HALTED with their instances killed; silent bridges are logged.
 * Idempotency: every effect is a guarded transition downstream or a publish with a
 *   deterministic msg id; sweeping twice is harmless.
 */
import { ownerOf } from "../../bus/contract.ts";
import { Contracts } from "../../bus/contracts.ts";
import { PendingEvents } from "../../bus/events.ts";
import type { LaunchBatch, TiError } from "../../bus/schemas.ts";
import { haltTasks, type KillList, setWorkflowStatus } from "../../store/halt.ts";
import { loadLaunchBatches, markBatchesPublished } from "../../store/launch-batch.ts";
import { listPeople } from "../../store/people.ts";
import {
  lostInstances,
  recordBridgeHeartbeat,
  setWorkflowError,
  silentBridges,
  stuckQueued,
  timedOutWorkflows,
  trySweepLock,
  unpublishedBatches,
} from "../../store/reap.ts";
import { defineFunction, type FunctionContext } from "../context.ts";
import { byOwner, publishKills, publishLaunches } from "../owners.ts";

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

export async function sweep(ctx: FunctionContext, options: ReapOptions = {}): Promise<SweepReport> {
  const heartbeatSeconds = options.heartbeatSeconds ?? 30;
  const stuckSeconds = options.stuckSeconds ?? 60;
  const events = new PendingEvents();
  const found = await ctx.sql.begin(async (tx) => {
    if (!(await trySweepLock(tx))) return null;
    const lost = await lostInstances(tx, 2000);
    const batchIds = await unpublishedBatches(tx, stuckSeconds, 100);
    const batches = await loadLaunchBatches(tx, batchIds);
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
    const messages = batches.batches.map(
      (b): LaunchBatch => ({ v: 1, ...b, heartbeat_seconds: heartbeatSeconds }),
    );
    return { lost, batches: messages, queued, kills, timedOut };
  });
  if (!found) return { swept: false, lost: 0, republished: 0, requeued: 0, timedOut: [] };
  events.flush(ctx.emit);

  // Lost instances: one error per instance, decided by retry like any failure, on the
  // owner's subject (as their bridge would have reported it).
  const lostBy = new Map(found.lost.map((l) => [l.id, l]));
  for (const [owner, ids] of await byOwner(ctx, [...lostBy.keys()])) {
    for (let i = 0; i < ids.length; i += 500) {
      const results: TiError["results"] = ids.slice(i, i + 500).map((id) => {
        const l = lostBy.get(id)!;
        return {
          id,
          kind: "lost",
          message: `lost: no report from the ${l.cluster} bridge by ${l.report_by.toISOString()}`,
        };
      });
      await ctx.publishFor(owner, Contracts.tiError, { v: 1, results }, "reap");
    }
  }
  // Kill orders, one per cluster: the lost instances (in case they still run) and those
  // of timed-out workflows.
  const byCluster = new Map<string, number[]>();
  const add = (cluster: string, ids: readonly number[]) => {
    const list = byCluster.get(cluster);
    if (list === undefined) byCluster.set(cluster, [...ids]);
    else for (const id of ids) list.push(id);
  };
  for (const l of found.lost) add(l.cluster, [l.id]);
  for (const k of found.kills) add(k.cluster, k.instance_ids);
  for (const [cluster, ids] of byCluster) await publishKills(ctx, cluster, ids, "reaped");
  // Each batch recorded published once sent: after a failure part-way, a later sweep
  // re-sends only the rest.
  await publishLaunches(ctx, found.batches, (sent) => markBatchesPublished(ctx.sql, sent));
  for (const q of found.queued) {
    for (let i = 0; i < q.ids.length; i += 5000) {
      const ids = q.ids.slice(i, i + 5000);
      // A minute bucket in the id: a later sweep may queue them again if this was lost too.
      const minute = Math.floor(Date.now() / 60_000);
      await ctx.publish(
        Contracts.taskQueued,
        { v: 1, workflow_id: q.workflow_id, task_ids: ids },
        { requeued_minute: minute },
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
    async handle(msg, ctx) {
      // The bridge's person gets their streams and consumers for its cluster: a bridge
      // started before any batch of theirs has something to pull from (it may not
      // create them itself).
      const owner = ownerOf(Contracts.bridgeHeartbeat, msg.actualSubject);
      await ctx.provision.ensure(owner, msg.data.cluster);
      await recordBridgeHeartbeat(ctx.sql, msg.data.cluster);
    },
    timers: [
      {
        name: "sweep",
        everyMs: options.sweepMs ?? 5000,
        run: (ctx) => sweep(ctx, options).then(() => {}),
      },
      {
        // Everyone the site knows gets their streams and DAG bucket: a person may not
        // make them, and may submit before any bridge of theirs has been heard of.
        name: "provision people",
        everyMs: options.sweepMs ?? 5000,
        run: async (ctx) => {
          for (const p of await listPeople(ctx.sql)) await ctx.provision.ensure(p.token);
        },
      },
    ],
  });
}

export const reap = createReap();
