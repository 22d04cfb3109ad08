/**
 * heartbeat — records that instances launched, started running, and are alive.
 *
 * Subscribes: ti.launched, ti.running, ti.heartbeat.
 * Publishes: nothing on JetStream. Events: evt.tasks.<wf> (LAUNCHED, RUNNING).
 * Idempotency: every transition is guarded (instance INSTANTIATED → LAUNCHED;
 *   INSTANTIATED/LAUNCHED → RUNNING; tasks follow only for instances that moved in this
 *   statement), so a redelivery changes nothing and a late report for an instance that
 *   is already DONE (results travel on another stream) changes no status — it only fills
 *   in a node or distributor id not yet recorded, as a late ti.launched fills in paths.
 *   Heartbeats only push report_by forward for live instances.
 * Side effects: task_instance status, distributor id, paths, node, report_by; task
 *   LAUNCHED/RUNNING; audit rows.
 */
import { Contracts } from "../../bus/contracts.ts";
import { PendingEvents } from "../../bus/events.ts";
import {
  extendReportBy,
  launchInstances,
  recordLaunchDetails,
  recordRunningDetails,
  runInstances,
} from "../../store/heartbeat.ts";
import { sortedIds } from "../../store/task-transition.ts";
import { defineFunction } from "../context.ts";
import { refuseForeignReport } from "../owners.ts";

export interface HeartbeatOptions {
  /** how often live instances are reported (LaunchBatch.heartbeat_seconds) */
  heartbeatSeconds?: number;
  /** reports missed before an instance counts as lost */
  missedHeartbeats?: number;
  /** on top of the missed reports (clock skew, message latency) */
  slackSeconds?: number;
}

/** How far report_by is pushed by a report: heartbeat × missed + slack. */
export function reportBySeconds(options: HeartbeatOptions = {}): number {
  return (
    (options.heartbeatSeconds ?? 30) * (options.missedHeartbeats ?? 3) +
    (options.slackSeconds ?? 30)
  );
}

/** Last entry per id (a report listing an instance twice keeps its latest data). */
function lastById<T extends { id: number }>(entries: readonly T[]): T[] {
  const byId = new Map<number, T>();
  for (const e of entries) byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

export function createHeartbeat(options: HeartbeatOptions = {}) {
  const seconds = reportBySeconds(options);
  return defineFunction({
    name: "heartbeat",
    concurrency: 4,
    async handle(msg, ctx) {
      const events = new PendingEvents();
      const ids =
        "instances" in msg.data ? msg.data.instances.map((i) => i.id) : msg.data.instance_ids;
      await refuseForeignReport(ctx, msg.actualSubject, ids);
      switch (msg.subject) {
        case Contracts.tiLaunched.subject: {
          const entries = lastById(msg.data.instances);
          await ctx.sql.begin(async (tx) => {
            // Instances and their tasks move in one statement.
            const moved = await launchInstances(tx, entries, seconds);
            const movedIds = new Set(moved.instances.map((m) => m.id));
            await recordLaunchDetails(
              tx,
              entries.filter((e) => !movedIds.has(e.id)),
            );
            events.tasks("LAUNCHED", moved.tasks);
          });
          break;
        }
        case Contracts.tiRunning.subject: {
          const entries = lastById(msg.data.instances);
          await ctx.sql.begin(async (tx) => {
            // Instances and their tasks move in one statement.
            const moved = await runInstances(tx, entries, seconds);
            const movedIds = new Set(moved.instances.map((m) => m.id));
            await recordRunningDetails(
              tx,
              entries.filter((e) => !movedIds.has(e.id)),
            );
            events.tasks("RUNNING", moved.tasks);
          });
          break;
        }
        case Contracts.tiHeartbeat.subject: {
          const alive = await extendReportBy(ctx.sql, sortedIds(msg.data.instance_ids), seconds);
          if (alive < msg.data.instance_ids.length) {
            ctx.log.debug(
              { reported: msg.data.instance_ids.length, alive },
              "heartbeats for instances that are no longer live",
            );
          }
          break;
        }
      }
      events.flush(ctx.emit);
    },
  });
}

export const heartbeat = createHeartbeat();
