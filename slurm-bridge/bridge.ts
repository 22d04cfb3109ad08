import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { LiveSet } from "../bridges/local/live.ts";
import { createPublisher } from "../bus/publish.ts";
import { defineFunction, type RunningFunction, startFunction } from "../bus/runtime.ts";
import { type ErrorKind, KillOrder, LaunchBatch } from "../bus/schemas.ts";
import { ensureSharedStreams } from "../bus/streams.ts";
import {
  bridgeHeartbeatSubject,
  killSubject,
  launchSubject,
  SharedStreams,
  Subjects,
} from "../bus/subjects.ts";
import type { Logger } from "../core/log.ts";
import { Reporter } from "../worker/reporter.ts";
import { adoptionScan } from "./adopt.ts";
import { SlurmCommands } from "./commands.ts";
import { type BridgeCore, type ReportedOutcome, reportingOf, type SubmitBackoff } from "./core.ts";
import { handleKill } from "./kill.ts";
import { handleLaunch } from "./launch.ts";
import { queuesMessage, queuesMsgId, readPartitions } from "./partitions.ts";
import { pollCycle } from "./poll.ts";
import { Poller } from "./poller.ts";
import { readMaxArraySize } from "./sbatch.ts";
import { BridgeState } from "./state.ts";

/**
 * The slurm-bridge: a thin daemon for the login node that needs NATS and the Slurm
 * commands, never the database.
 *
 * Subscribes: `launch.<cluster>` (durable `bridge-<cluster>` on DROVER_LAUNCH) and
 *   `ctl.<cluster>.kill` (durable `bridge-<cluster>-ctl` on DROVER_CTL).
 * Publishes: `ti.launched` (per batch, before its launch is acked); `ti.done` / `ti.error`
 *   from sacct for every element that ended (the worker inside the job reports running,
 *   heartbeats and its own exits first; deaths by signal only the bridge reports, so the
 *   first report of an instance is the right one); `ti.heartbeat` for every live instance
 *   in batches (pending ones included); `bridge.heartbeat.<cluster>` with its counters;
 *   `cluster.queues` with the partitions and their limits.
 * Slurm sees ONE `sbatch --array` per launch batch (per part above MaxArraySize) and ONE
 *   `sacct` per poll cycle for all live jobs, on an adaptive interval.
 * Idempotency: a part's job id is persisted (state.ts) before its launch is acked; a
 *   launch delivered again is looked up by its tag (job name) before anything is
 *   submitted, and a restarted bridge re-adopts its jobs from its state file and from
 *   sacct by tag. Results are re-reported at most (the handlers' guarded transitions
 *   ignore repeats), never submitted twice.
 * Robustness: sbatch failures are retried with capped, jittered backoff while the launch
 *   message is kept alive; sacct failures only lengthen the poll interval (nothing is
 *   marked failed for them; live instances keep their heartbeats).
 * This module wires the daemon; the work is in launch.ts (sbatch), poll.ts (sacct),
 *   kill.ts (scancel) and adopt.ts (re-adoption), on what core.ts says they share.
 */

export type { ReportedOutcome };

export interface SlurmBridgeOptions {
  nc: NatsConnection;
  log: Logger;
  /** the NATS URL the workers in the jobs connect to */
  natsUrl: string;
  /** default `slurm` */
  cluster?: string;
  /** state file, under <stateDir>/<tag prefix>/ */
  stateDir: string;
  /** job scripts, manifests and Slurm's output files (default <stateDir>/jobs); must be
   * visible from the compute nodes */
  jobsDir?: string;
  /** per-instance stdout/stderr, as `<logDir>/<workflow>/<task>.<instance>.out|.err` */
  logDir: string;
  /** job name prefix that marks this installation's jobs (default derived from NATS) */
  tagPrefix?: string;
  /** shortest poll interval (default 10 s) */
  pollSeconds?: number;
  /** longest poll interval, reached while nothing changes (default 60 s) */
  maxPollSeconds?: number;
  bridgeHeartbeatMs?: number;
  queuesRefreshMs?: number;
  /** caps MaxArraySize below the cluster's (tests) */
  maxArraySize?: number;
  /** how far back a start-up scan looks for this bridge's jobs (default 48 h) */
  adoptWindowHours?: number;
  /** an element gone from sacct's records of its job (cancelled while pending) for this
   * long ends as an error (default 60 s; at once when we had ordered its kill) */
  vanishSeconds?: number;
  /** a job sacct does not know at all for this long: its instances are lost (default 600 s) */
  missingSeconds?: number;
  /** ack wait of the launch consumer */
  ackWaitMs?: number;
  /** launch batches handled at once */
  concurrency?: number;
  commands?: SlurmCommands;
  /** the node binary and the worker bundle the jobs run */
  node?: string;
  worker?: string;
  submitBackoff?: SubmitBackoff;
  /** test hook: runs after a part's job was submitted, before it is recorded */
  afterSubmit?(tag: string, jobId: string): Promise<void>;
}

export interface SlurmBridgeStats {
  sbatch_calls: number;
  sacct_calls: number;
  squeue_calls: number;
  scancel_calls: number;
  scontrol_calls: number;
  sbatch_failures: number;
  sacct_failures: number;
  poll_cycles: number;
  poll_interval_ms: number;
  batches: number;
  parts_submitted: number;
  parts_adopted: number;
  live_instances: number;
  max_array_size: number;
  reported: Record<"done" | ErrorKind, number>;
}

export interface SlurmBridge {
  id: string;
  cluster: string;
  tagPrefix: string;
  commands: SlurmCommands;
  stats(): SlurmBridgeStats;
  /** what the bridge reported per instance (the latest 50,000), for logs and tests */
  outcomes: ReadonlyMap<number, ReportedOutcome>;
  /** runs one poll cycle now (tests) */
  pollNow(): Promise<boolean>;
  /** resolves once everything reported so far is published */
  flush(): Promise<void>;
  /** Stops taking work and polling; jobs keep running in Slurm for the next bridge. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const DEFAULT_WORKER = join(ROOT, "dist", "drover-worker.mjs");

/** A prefix unique to this installation: its NATS URL and when its launch stream was made. */
export async function deriveTagPrefix(nc: NatsConnection, natsUrl: string): Promise<string> {
  const jsm = await jetstreamManager(nc);
  await ensureSharedStreams(jsm);
  const info = await jsm.streams.info(SharedStreams.launch.name);
  const digest = createHash("sha256").update(`${natsUrl}|${info.created}`).digest("hex");
  return `drv${digest.slice(0, 8)}`;
}

export async function startSlurmBridge(options: SlurmBridgeOptions): Promise<SlurmBridge> {
  const { nc } = options;
  const cluster = options.cluster ?? "slurm";
  const cmds = options.commands ?? new SlurmCommands();
  const node = options.node ?? process.execPath;
  const worker = options.worker ?? DEFAULT_WORKER;
  if (!existsSync(worker)) {
    throw new Error(`the worker bundle ${worker} is missing: run npm run build:worker`);
  }
  const tagPrefix = options.tagPrefix ?? (await deriveTagPrefix(nc, options.natsUrl));
  const id = `slurm-${hostname()}-${process.pid}`;
  const log = options.log.child({ bridge: id, cluster, tag: tagPrefix });
  const stateDir = join(options.stateDir, tagPrefix);
  const jobsDir = options.jobsDir ?? join(options.stateDir, tagPrefix, "jobs");
  const clusterMax = await readMaxArraySize(cmds);
  const maxArraySize = Math.min(clusterMax, options.maxArraySize ?? clusterMax);

  const publisher = createPublisher(nc, jetstream(nc));
  const reporter = new Reporter(publisher.publish, log, { reporterId: id });
  const live = new LiveSet(reporter, 1000);
  const state = new BridgeState(stateDir);
  const abort = new AbortController();
  const shared = {
    state,
    reporter,
    live,
    reported: { done: 0, error: 0, memory: 0, runtime: 0, lost: 0, killed: 0 },
    outcomes: new Map<number, ReportedOutcome>(),
  };
  const core: BridgeCore = {
    ...shared,
    ...reportingOf(shared),
    cluster,
    tagPrefix,
    cmds,
    log,
    signal: abort.signal,
    jobsDir,
    maxArraySize,
    adoptWindowMs: (options.adoptWindowHours ?? 48) * 3600_000,
    vanishMs: (options.vanishSeconds ?? 60) * 1000,
    missingMs: (options.missingSeconds ?? 600) * 1000,
    // slurmdbd may record a job COMPLETED a moment before its .batch step's MaxRSS.
    rssGraceMs: 5_000,
    fileOptions: {
      jobsDir,
      logDir: options.logDir,
      natsUrl: options.natsUrl,
      tagPrefix,
      node,
      worker,
    },
    submitBackoff: options.submitBackoff ?? {},
    ...(options.afterSubmit ? { afterSubmit: options.afterSubmit } : {}),
    counters: { pollCycles: 0, batches: 0, partsSubmitted: 0, partsAdopted: 0 },
    earlyKills: new Map<number, string>(),
    kick: () => poller.kick(),
    pollIntervalMs: () => poller.interval.ms,
  };
  const { counters, reported } = core;

  // ---------------------------------------------------------------- re-adoption
  const adopted = state.load((problem) => log.warn({ problem }, "state not fully re-adopted"));
  for (const part of adopted) core.track(part);
  counters.partsAdopted += adopted.length;
  try {
    await adoptionScan(core, adopted.length);
  } catch (err) {
    // sacct is down: what the state file holds is tracked; the scan is not retried.
    log.warn({ err }, "start-up scan for tagged jobs failed");
  }

  // ---------------------------------------------------------------- polling
  /** One cycle at a time (the poller's and pollNow's). */
  let inCycle: Promise<boolean> | undefined;
  async function serialCycle(): Promise<boolean> {
    while (inCycle) await inCycle.catch(() => false);
    inCycle = pollCycle(core);
    try {
      return await inCycle;
    } finally {
      inCycle = undefined;
    }
  }

  const poller = new Poller({
    minMs: (options.pollSeconds ?? 10) * 1000,
    maxMs: (options.maxPollSeconds ?? 60) * 1000,
    cycle: serialCycle,
    onError: (err) => log.error({ err }, "poll cycle failed"),
  });

  // ---------------------------------------------------------------- consumers
  const launchName = `bridge-${cluster}`;
  const launchFn = defineFunction({
    name: launchName,
    schemas: { [launchSubject(cluster)]: LaunchBatch },
    concurrency: options.concurrency ?? 4,
    ackWaitMs: options.ackWaitMs ?? 60_000,
    // A batch is never dropped for a failure of ours: it is retried until it goes through.
    maxDeliver: 1000,
    stream: {
      name: SharedStreams.launch.name,
      subjects: SharedStreams.launch.subjects,
      filterSubject: launchSubject(cluster),
    },
    async handle(msg, ctx) {
      if (msg.data.cluster !== cluster) {
        ctx.log.warn({ cluster: msg.data.cluster }, "launch batch names another cluster");
      }
      await handleLaunch(core, msg.data, ctx.delivery);
    },
  });
  const killFn = defineFunction({
    name: `${launchName}-ctl`,
    schemas: { [killSubject(cluster)]: KillOrder },
    stream: {
      name: SharedStreams.ctl.name,
      subjects: SharedStreams.ctl.subjects,
      filterSubject: killSubject(cluster),
    },
    async handle(msg, ctx) {
      const ours = await handleKill(core, msg.data.instance_ids, msg.data.reason);
      ctx.log.info(
        { asked: msg.data.instance_ids.length, ours, reason: msg.data.reason },
        "kill order",
      );
    },
  });

  const stats = (): SlurmBridgeStats => ({
    sbatch_calls: cmds.calls.sbatch,
    sacct_calls: cmds.calls.sacct,
    squeue_calls: cmds.calls.squeue,
    scancel_calls: cmds.calls.scancel,
    scontrol_calls: cmds.calls.scontrol,
    sbatch_failures: cmds.failures.sbatch,
    sacct_failures: cmds.failures.sacct,
    poll_cycles: counters.pollCycles,
    poll_interval_ms: poller.interval.ms,
    batches: counters.batches,
    parts_submitted: counters.partsSubmitted,
    parts_adopted: counters.partsAdopted,
    live_instances: state.liveCount,
    max_array_size: maxArraySize,
    reported: { ...reported },
  });

  // ---------------------------------------------------------------- queues, heartbeats
  let lastQueues = "";
  async function publishQueues(): Promise<void> {
    try {
      const message = queuesMessage(cluster, await readPartitions(cmds));
      await publisher.publish(Subjects.clusterQueues, message, { msgID: queuesMsgId(message) });
      const text = JSON.stringify(message.queues);
      if (text !== lastQueues)
        log.info({ queues: message.queues }, "partitions published as queues");
      lastQueues = text;
    } catch (err) {
      log.warn({ err }, "partitions not published; trying again later");
    }
  }

  const beat = async () => {
    const { reported: r, ...flat } = stats();
    const counters_ = {
      ...flat,
      ...Object.fromEntries(Object.entries(r).map(([k, v]) => [`reported_${k}`, v])),
    };
    try {
      await publisher.publish(bridgeHeartbeatSubject(cluster), {
        v: 1,
        cluster,
        bridge_id: id,
        live_instances: state.liveCount,
        counters: counters_,
      });
    } catch (err) {
      log.debug({ err }, "bridge heartbeat not published");
    }
  };

  const running: RunningFunction[] = [];
  try {
    running.push(await startFunction(launchFn, { nc, log }));
    running.push(await startFunction(killFn, { nc, log }));
  } catch (err) {
    await Promise.allSettled(running.map((f) => f.stop()));
    throw err;
  }
  live.start();
  poller.start();
  await publishQueues();
  void beat();
  const beatTimer = setInterval(() => void beat(), options.bridgeHeartbeatMs ?? 5000);
  const queuesTimer = setInterval(() => void publishQueues(), options.queuesRefreshMs ?? 600_000);
  beatTimer.unref();
  queuesTimer.unref();

  log.info(
    {
      stateDir,
      jobsDir,
      logDir: options.logDir,
      maxArraySize,
      live: state.liveCount,
      pollSeconds: options.pollSeconds ?? 10,
    },
    "slurm bridge started",
  );

  let stopped: Promise<void> | undefined;
  return {
    id,
    cluster,
    tagPrefix,
    commands: cmds,
    stats,
    outcomes: core.outcomes,
    pollNow: serialCycle,
    flush: () => reporter.flush(),
    stop() {
      stopped ??= (async () => {
        abort.abort();
        await Promise.allSettled(running.map((f) => f.stop()));
        await poller.stop();
        clearInterval(beatTimer);
        clearInterval(queuesTimer);
        live.stop();
        state.persist();
        await reporter.close(10_000);
        log.info(stats(), "slurm bridge stopped");
      })();
      return stopped;
    },
  };
}
