import { hostname } from "node:os";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectionToken } from "../bus/connect.ts";
import { clusterConsumer } from "../bus/consumer.ts";
import { Contracts } from "../bus/contracts.ts";
import { bridgeInstances, bridgeSlots } from "../bus/metrics.ts";
import { createPublisher } from "../bus/publish.ts";
import { type RunningFunction, startConsumer } from "../bus/runtime.ts";
import type { Logger } from "../core/log.ts";
import { MemoryCgroups } from "../worker/cgroup.ts";
import { LiveSet } from "../worker/live.ts";
import { MemorySampler } from "../worker/proc.ts";
import { Reporter } from "../worker/reporter.ts";
import { serveLogs } from "../worker/serve-logs.ts";
import { DummyCluster } from "./dummy.ts";
import type { ClusterExecutor, ExecutorDeps } from "./executor.ts";
import { ProcessCluster } from "./process-cluster.ts";
import { commandLauncher } from "./spawner-process.ts";

/**
 * The local bridge: serves `local` (N slots), `sequential` (1 slot) and `dummy`.
 *
 * It serves one person, the user of its connection (`owner`): the commands it runs are
 * theirs, and it runs as them.
 * Subscribes: `launch.<cluster>.<owner>` (durable `bridge-<cluster>` on the owner's
 *   DROVER_LAUNCH_<owner>) and `ctl.<cluster>.<owner>.kill` (durable
 *   `bridge-<cluster>-ctl` on DROVER_CTL_<owner>).
 * Publishes: `ti.<owner>.launched` (one per batch, before the launch is acked),
 *   `ti.<owner>.running`, `.heartbeat`, `.done`, `.error` (batched, see
 *   worker/reporter.ts), and `bridge.heartbeat.<cluster>.<owner>` every few seconds.
 * Idempotency: an instance id accepted twice (a redelivered launch) is announced again,
 *   never run twice; report message ids derive from the instance ids.
 * Side effects: runs commands on this host, writes their output under `logDir`.
 * Needs NATS only, never the database.
 */

export const LOCAL_CLUSTERS = ["local", "sequential", "dummy"] as const;

export interface LocalBridgeOptions {
  nc: NatsConnection;
  log: Logger;
  /** slots of `local` */
  slots: number;
  logDir: string;
  clusters?: string[];
  /** between SIGTERM and SIGKILL when a command is stopped */
  killGraceMs?: number;
  bridgeHeartbeatMs?: number;
  /** caps of each report message */
  maxCount?: number;
  maxBytes?: number;
  /** launch messages accepted at once per cluster */
  concurrency?: number;
  /** memory limits held by cgroups, by sampling, or by cgroups where possible (default) */
  memory?: "auto" | "cgroup" | "sampled";
  /** copies of the streams it may make (its person's, on a NATS without permissions) */
  streamReplicas?: number;
}

export interface LocalBridge {
  id: string;
  clusters: string[];
  /** messages published so far, by subject */
  published: ReadonlyMap<string, number>;
  /** Stops taking work, stops what runs (reported `lost`), flushes reports. */
  stop(): Promise<void>;
}

/**
 * Reports of commands ending one after another go out together, a few per message rather
 * than one: each message costs a publish, a handler pass and a database transaction,
 * while 50 ms is nothing against a task's run.
 */
const REPORT_LINGER_MS = 50;

export async function startLocalBridge(options: LocalBridgeOptions): Promise<LocalBridge> {
  const { nc } = options;
  const clusters = options.clusters ?? [...LOCAL_CLUSTERS];
  for (const c of clusters) {
    if (!(LOCAL_CLUSTERS as readonly string[]).includes(c)) {
      throw new Error(
        `the local bridge cannot serve cluster "${c}" (it serves ${LOCAL_CLUSTERS.join(", ")})`,
      );
    }
  }
  const node = hostname();
  const id = `local-${node}-${process.pid}`;
  const log = options.log.child({ bridge: id });
  const owner = connectionToken(nc);
  const publisher = createPublisher(nc, jetstream(nc), owner);
  const reporter = new Reporter(publisher.publish, log, {
    reporterId: id,
    lingerMs: REPORT_LINGER_MS,
    ...(options.maxCount ? { maxCount: options.maxCount } : {}),
    ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
  });
  const live = new LiveSet(reporter);
  live.start();
  const sampler = new MemorySampler(250);
  // Started on the first command: a bridge serving only dummy never starts it.
  const launcher = commandLauncher(log);
  const cgroups = memoryCgroups(options.memory ?? "auto", log);
  const deps: ExecutorDeps = { reporter, live, log, node, bridgePid: process.pid };
  const executors: ClusterExecutor[] = clusters.map((cluster) =>
    cluster === "dummy"
      ? new DummyCluster(cluster, deps)
      : new ProcessCluster(
          {
            cluster,
            slots: cluster === "sequential" ? 1 : options.slots,
            logDir: options.logDir,
            killGraceMs: options.killGraceMs ?? 5000,
            sampler,
            ...(cgroups ? { cgroups } : {}),
            ...(launcher ? { launcher } : {}),
          },
          deps,
        ),
  );

  // Heartbeats first: on an authenticated NATS the service makes this person's
  // consumers when it hears of their bridge, and the consumers wait for that.
  const beat = async () => {
    for (const executor of executors) {
      const data = {
        v: 1,
        cluster: executor.cluster,
        bridge_id: id,
        live_instances: executor.liveCount,
      } as const;
      try {
        await publisher.publish(Contracts.bridgeHeartbeat, data);
      } catch (err) {
        // No stream takes bridge heartbeats until the reaper has created its own.
        log.debug({ err, cluster: executor.cluster }, "bridge heartbeat not published");
      }
    }
  };
  void beat();
  const beatTimer = setInterval(() => void beat(), options.bridgeHeartbeatMs ?? 5000);
  beatTimer.unref();

  const replicas = options.streamReplicas ? { streamReplicas: options.streamReplicas } : {};
  const launchFns: RunningFunction[] = [];
  const ctlFns: RunningFunction[] = [];
  try {
    for (const executor of executors) {
      launchFns.push(
        await startConsumer(launchConsumer(executor, owner, reporter, options.concurrency ?? 8), {
          nc,
          log,
          ...replicas,
        }),
      );
      ctlFns.push(await startConsumer(ordersConsumer(executor, owner), { nc, log, ...replicas }));
    }
  } catch (err) {
    clearInterval(beatTimer);
    await Promise.allSettled([...launchFns, ...ctlFns].map((f) => f.stop()));
    live.stop();
    cgroups?.close();
    await launcher?.close();
    throw err;
  }
  // Again now that the streams are there (the first beat may have come before them).
  void beat();
  // The logs it wrote, for those who cannot read its person's files (a site's GUI).
  const logServices = clusters
    .filter((c) => c !== "dummy")
    .map((c) => serveLogs(nc, owner, c, [options.logDir], log));

  const unmeasure = [
    bridgeInstances.add(() =>
      executors.flatMap((e) => [
        { labels: { cluster: e.cluster, state: "running" }, value: e.runningCount },
        { labels: { cluster: e.cluster, state: "queued" }, value: e.liveCount - e.runningCount },
      ]),
    ),
    bridgeSlots.add(() =>
      executors.flatMap((e) =>
        e.slots === undefined ? [] : [{ labels: { cluster: e.cluster }, value: e.slots }],
      ),
    ),
  ];

  log.info(
    {
      clusters,
      slots: options.slots,
      logDir: options.logDir,
      memory: cgroups ? `cgroup v${cgroups.version} ${cgroups.root}` : "sampled",
    },
    "local bridge started",
  );
  let stopped: Promise<void> | undefined;
  return {
    id,
    clusters,
    published: reporter.published,
    stop() {
      stopped ??= (async () => {
        // No new batches; those being accepted finish first, so nothing is half-queued.
        await Promise.allSettled(launchFns.map((f) => f.stop()));
        await Promise.allSettled(executors.map((e) => e.stop()));
        await launcher?.close();
        await Promise.allSettled(ctlFns.map((f) => f.stop()));
        await Promise.allSettled(logServices.map((s) => s.stop()));
        clearInterval(beatTimer);
        for (const remove of unmeasure) remove();
        live.stop();
        cgroups?.close();
        await reporter.close(10_000);
        log.info({ published: Object.fromEntries(reporter.published) }, "local bridge stopped");
      })();
      return stopped;
    },
  };
}

/** The cgroups that hold commands to their memory, as `mode` asks; undefined: sampling. */
function memoryCgroups(mode: "auto" | "cgroup" | "sampled", log: Logger) {
  if (mode === "sampled") return undefined;
  const found = MemoryCgroups.detect();
  if (found instanceof MemoryCgroups) return found;
  if (mode === "cgroup") {
    throw new Error(`memory limits by cgroup were asked, but ${found.unavailable}`);
  }
  log.info({ reason: found.unavailable }, "no memory cgroups: memory limits are sampled");
  return undefined;
}

function launchConsumer(
  executor: ClusterExecutor,
  owner: string,
  reporter: Reporter,
  concurrency: number,
) {
  return clusterConsumer(Contracts.launch, executor.cluster, owner, {
    concurrency,
    handle: async (msg, ctx) => {
      const batch = msg.data;
      if (batch.cluster !== executor.cluster) {
        ctx.log.warn(
          { cluster: batch.cluster },
          "launch batch names another cluster than its subject",
        );
      }
      const prepared = executor.prepare(batch);
      // Announced before it is queued: if this publish fails, the launch is redelivered.
      await reporter.launched(executor.cluster, prepared.launched);
      prepared.commit();
      ctx.log.debug(
        { batch: batch.batch_id, instances: batch.instances.length },
        "launch batch accepted",
      );
    },
  });
}

/** Orders to the bridge of a cluster: kill instances, a workflow's new limits. */
function ordersConsumer(executor: ClusterExecutor, owner: string) {
  return clusterConsumer([Contracts.kill, Contracts.limits], executor.cluster, owner, {
    handle: async (msg, ctx) => {
      if (msg.subject === "ctl.*.*.limit") {
        executor.limit(msg.data.workflow_id, msg.data.limits);
        ctx.log.info({ workflow: msg.data.workflow_id, limits: msg.data.limits }, "limit order");
        return;
      }
      const ours = executor.kill(msg.data.instance_ids, msg.data.reason);
      ctx.log.info(
        { asked: msg.data.instance_ids.length, ours, reason: msg.data.reason },
        "kill order",
      );
    },
  });
}
