import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { hostname, userInfo } from "node:os";
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
import { type LaunchedEntry, Reporter } from "../worker/reporter.ts";
import type { ResultEntry } from "../worker/results.ts";
import { readTail } from "../worker/run-command.ts";
import { SlurmCommands } from "./commands.ts";
import { queuesMessage, queuesMsgId, readPartitions } from "./partitions.ts";
import { Poller } from "./poller.ts";
import { compactIndices, outcomeOf, parseSacct, phaseOf, sacctArgs } from "./sacct.ts";
import {
  findJobByTag,
  jobTag,
  type Part,
  partFiles,
  readMaxArraySize,
  SbatchRefused,
  splitParts,
  submitBackoffMs,
  submitPart,
  writePart,
} from "./sbatch.ts";
import { BridgeState, scanTaggedJobs, type TrackedInstance, type TrackedPart } from "./state.ts";

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
 */

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
  submitBackoff?: { baseMs?: number; capMs?: number; maxUnknownAttempts?: number };
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

export interface ReportedOutcome {
  state: string;
  kind: "done" | ErrorKind;
  exit_code?: number | null;
  memory_used?: number;
  runtime_used?: number;
  node?: string;
  message?: string;
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
const MAX_OUTCOMES = 50_000;
const MAX_EARLY_KILLS = 100_000;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });

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
  const vanishMs = (options.vanishSeconds ?? 60) * 1000;
  const missingMs = (options.missingSeconds ?? 600) * 1000;
  // slurmdbd may record a job COMPLETED a moment before its .batch step's MaxRSS.
  const rssGraceMs = 5_000;
  const adoptWindowMs = (options.adoptWindowHours ?? 48) * 3600_000;

  const publisher = createPublisher(nc, jetstream(nc));
  const reporter = new Reporter(publisher.publish, log, { reporterId: id });
  const live = new LiveSet(reporter, 1000);
  const state = new BridgeState(stateDir);
  const abort = new AbortController();
  const counters = { pollCycles: 0, batches: 0, partsSubmitted: 0, partsAdopted: 0 };
  const reported: SlurmBridgeStats["reported"] = {
    done: 0,
    error: 0,
    memory: 0,
    runtime: 0,
    lost: 0,
    killed: 0,
  };
  const outcomes = new Map<number, ReportedOutcome>();
  /** kill orders for instances not (yet) tracked: their batch may still be on its way */
  const earlyKills = new Map<number, string>();

  const track = (part: TrackedPart) => {
    for (const inst of part.live.values()) live.add(inst.id, part.heartbeatSeconds);
  };

  const report = (inst: TrackedInstance | undefined, result: ResultEntry, state_: string) => {
    // Reported already (a kill and a poll crossing): once is enough.
    if (inst && state.instance(inst.id) !== inst) return;
    reporter.reportResult(result);
    const entry = "done" in result ? result.done : result.error;
    const kind = "done" in result ? "done" : result.error.kind;
    reported[kind]++;
    outcomes.set(entry.id, {
      state: state_,
      kind,
      ...(entry.exit_code !== undefined ? { exit_code: entry.exit_code } : {}),
      ...(entry.memory_used !== undefined ? { memory_used: entry.memory_used } : {}),
      ...(entry.runtime_used !== undefined ? { runtime_used: entry.runtime_used } : {}),
      ...(entry.node !== undefined ? { node: entry.node } : {}),
      ...("error" in result ? { message: result.error.message } : {}),
    });
    if (outcomes.size > MAX_OUTCOMES) outcomes.delete(outcomes.keys().next().value!);
    if (inst) {
      live.remove(inst.id);
      state.end(inst);
    }
  };

  const killedResult = (id: number, message: string): ResultEntry => ({
    error: { id, kind: "killed", exit_code: null, message: message.slice(0, 2000) },
  });

  // ---------------------------------------------------------------- re-adoption
  const adopted = state.load((problem) => log.warn({ problem }, "state not fully re-adopted"));
  for (const part of adopted) track(part);
  counters.partsAdopted += adopted.length;

  async function adoptionScan(): Promise<void> {
    counters.pollCycles++;
    const since = Date.now() - adoptWindowMs;
    const { jobs, duplicates } = await scanTaggedJobs(cmds, tagPrefix, since, userInfo().username);
    if (duplicates.length > 0) {
      log.error(
        { duplicates: duplicates.map((d) => `${d.jobId} (${d.tag})`) },
        "jobs share a tag: a batch was submitted twice",
      );
    }
    let found = 0;
    for (const job of jobs) {
      if (state.part(job.batchId, job.part) || state.hasFinished(job.batchId, job.part)) continue;
      const manifestPath = join(jobsDir, `batch-${job.batchId}`, `part-${job.part}.json`);
      if (!existsSync(manifestPath)) {
        log.warn({ job: job.jobId, tag: job.tag, manifestPath }, "tagged job without a manifest");
        continue;
      }
      track(state.adopt({ ...job, manifestPath }, false));
      found++;
    }
    state.prune(adoptWindowMs);
    state.persist();
    counters.partsAdopted += found;
    log.info(
      { from_state: adopted.length, from_sacct: found, live: state.liveCount },
      "jobs re-adopted",
    );
  }
  try {
    await adoptionScan();
  } catch (err) {
    // sacct is down: what the state file holds is tracked; the scan is not retried.
    log.warn({ err }, "start-up scan for tagged jobs failed");
  }

  // ---------------------------------------------------------------- kills
  async function killTracked(insts: TrackedInstance[], reason: string): Promise<void> {
    if (insts.length === 0) return;
    for (const inst of insts) state.markKilled(inst);
    state.persist();
    const byJob = new Map<string, number[]>();
    for (const inst of insts) {
      const list = byJob.get(inst.part.jobId);
      if (list) list.push(inst.index);
      else byJob.set(inst.part.jobId, [inst.index]);
    }
    const specs = [...byJob].map(([jobId, indices]) =>
      indices.length === 1 ? `${jobId}_${indices[0]}` : `${jobId}_[${compactIndices(indices)}]`,
    );
    const result = await cmds.run("scancel", specs);
    if (result.code !== 0) {
      // Typically elements that ended meanwhile; sacct tells what became of each.
      log.warn({ specs, stderr: result.stderr.trim().slice(0, 500) }, "scancel complained");
    }
    // Pending elements are removed from the array without a record of their own: report
    // them now. Running ones are reported when sacct shows them CANCELLED.
    for (const inst of insts) {
      if (inst.phase === "pending" && result.code === 0) {
        report(inst, killedResult(inst.id, `killed before it started: ${reason}`), "CANCELLED");
      }
    }
    state.persist();
    poller.kick();
  }

  async function handleKill(ids: readonly number[], reason: string): Promise<number> {
    const insts: TrackedInstance[] = [];
    for (const id of ids) {
      const inst = state.instance(id);
      if (inst) insts.push(inst);
      else {
        earlyKills.set(id, reason);
        if (earlyKills.size > MAX_EARLY_KILLS) earlyKills.delete(earlyKills.keys().next().value!);
      }
    }
    await killTracked(insts, reason);
    return insts.length;
  }

  // ---------------------------------------------------------------- launches
  async function lookupTag(tag: string, since: number): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await findJobByTag(cmds, tag, since);
      } catch (err) {
        if (abort.signal.aborted) throw err;
        const delay = submitBackoffMs(attempt, 1000, 60_000);
        log.warn({ err, tag, attempt, delay }, "cannot tell whether the batch was submitted");
        await sleep(delay, abort.signal);
      }
    }
  }

  const fileOptions = {
    jobsDir,
    logDir: options.logDir,
    natsUrl: options.natsUrl,
    tagPrefix,
    node,
    worker,
  };

  /** Submits one part (or finds it already submitted) and tracks it; undefined if none. */
  async function acceptPart(
    batch: LaunchBatch,
    part: Part,
    delivery: number,
  ): Promise<TrackedPart | undefined> {
    const tag = jobTag(tagPrefix, batch.batch_id, part.part);
    const files = partFiles(jobsDir, batch.batch_id, part.part);
    // Delivered before: an earlier attempt may have submitted it and died.
    let jobId = delivery > 1 ? await lookupTag(tag, Date.now() - adoptWindowMs) : undefined;
    if (jobId) {
      counters.partsAdopted++;
      log.info({ tag, job: jobId, delivery }, "batch found in Slurm: adopted");
      // Its elements read the manifest written then: it is kept as it is.
      if (!existsSync(files.manifest)) writePart(batch, part, fileOptions);
    } else {
      const keep = part.instances.filter((i) => {
        const reason = earlyKills.get(i.id);
        if (reason === undefined) return true;
        report(undefined, killedResult(i.id, `killed before it started: ${reason}`), "-");
        return false;
      });
      if (keep.length === 0) return undefined;
      const written = writePart(batch, { ...part, instances: keep }, fileOptions);
      const backoff = options.submitBackoff ?? {};
      try {
        jobId = await submitPart(cmds, written, {
          signal: abort.signal,
          ...(backoff.baseMs ? { baseBackoffMs: backoff.baseMs } : {}),
          ...(backoff.capMs ? { capBackoffMs: backoff.capMs } : {}),
          ...(backoff.maxUnknownAttempts ? { maxUnknownAttempts: backoff.maxUnknownAttempts } : {}),
          lookup: () => findJobByTag(cmds, tag, Date.now() - adoptWindowMs),
          onRetry: (attempt, delay, err) =>
            log.warn({ tag, attempt, delay, err: err.message }, "sbatch failed, retrying"),
        });
      } catch (err) {
        if (!(err instanceof SbatchRefused)) throw err;
        log.error({ tag, err: err.message }, "sbatch refused the batch");
        for (const i of keep) {
          const message = `not submitted: ${err.message}`.slice(0, 2000);
          report(
            undefined,
            { error: { id: i.id, kind: "error", exit_code: null, message } },
            "REFUSED",
          );
        }
        return undefined;
      }
      counters.partsSubmitted++;
    }
    await options.afterSubmit?.(tag, jobId);
    const tracked = state.adopt({
      batchId: batch.batch_id,
      part: part.part,
      jobId,
      tag,
      manifestPath: files.manifest,
      submittedAt: Date.now(),
    });
    track(tracked);
    return tracked;
  }

  async function handleLaunch(batch: LaunchBatch, delivery: number): Promise<void> {
    counters.batches++;
    const entries: LaunchedEntry[] = [];
    const fresh: TrackedPart[] = [];
    for (const part of splitParts(batch.instances, maxArraySize)) {
      let tracked = state.part(batch.batch_id, part.part);
      if (!tracked && state.hasFinished(batch.batch_id, part.part)) continue;
      if (!tracked) {
        tracked = await acceptPart(batch, part, delivery);
        if (!tracked) continue;
        fresh.push(tracked);
      }
      entries.push(...tracked.launched);
    }
    // Announced before the launch is acked: if this fails, the launch comes again and
    // finds its parts in the state.
    if (entries.length > 0) await reporter.launched(cluster, entries);
    // Kill orders that came while the batch was on its way.
    const lateKills = fresh.flatMap((p) =>
      [...p.live.values()].filter((i) => earlyKills.has(i.id)),
    );
    if (lateKills.length > 0) {
      await killTracked(lateKills, earlyKills.get(lateKills[0]!.id) ?? "kill order");
      for (const i of lateKills) earlyKills.delete(i.id);
    }
    if (fresh.length > 0) poller.kick();
  }

  // ---------------------------------------------------------------- polling
  async function pollCycle(): Promise<boolean> {
    const parts = state.liveParts();
    if (parts.length === 0) return false;
    counters.pollCycles++;
    const since = Math.min(...parts.map((p) => p.submittedAt)) - 10 * 60_000;
    const result = await cmds.run(
      "sacct",
      sacctArgs(
        parts.map((p) => p.jobId),
        since,
      ),
    );
    if (result.code !== 0) {
      log.warn(
        { stderr: result.stderr.trim().slice(0, 500), live: state.liveCount },
        "sacct failed; polling on, nothing is marked failed for it",
      );
      return false;
    }
    const records = parseSacct(result.stdout);
    const now = Date.now();
    let activity = false;
    let ended = 0;
    for (const part of parts) {
      const elements = records.get(part.jobId);
      for (const inst of [...part.live.values()]) {
        const el = elements?.get(inst.index);
        if (!el) {
          if (!elements) {
            if (now - part.submittedAt > missingMs) {
              report(
                inst,
                {
                  error: {
                    id: inst.id,
                    kind: "lost",
                    exit_code: null,
                    message: `Slurm has no record of job ${part.jobId} after ${Math.round((now - part.submittedAt) / 1000)} s`,
                  },
                },
                "MISSING",
              );
              activity = true;
              ended++;
            }
            continue;
          }
          inst.missingSince ??= now;
          if (inst.killOrdered || now - inst.missingSince >= vanishMs) {
            report(
              inst,
              inst.killOrdered
                ? killedResult(inst.id, "killed before it started: kill order")
                : {
                    error: {
                      id: inst.id,
                      kind: "error",
                      exit_code: null,
                      message: `element ${part.jobId}_${inst.index} vanished from Slurm's records before it started (cancelled outside Drover?)`,
                    },
                  },
              "VANISHED",
            );
            activity = true;
            ended++;
          }
          continue;
        }
        inst.missingSince = undefined;
        const phase = phaseOf(el.state);
        if (phase !== "ended") {
          if (inst.phase !== phase) {
            inst.phase = phase;
            activity = true;
          }
          continue;
        }
        if (el.state === "COMPLETED" && el.maxRssBytes === undefined) {
          // Wait a little for the step's MaxRSS. Only for COMPLETED: the worker inside
          // the job has usually reported it already; failures go out at once.
          inst.completedWithoutRssSince ??= now;
          if (now - inst.completedWithoutRssSince < rssGraceMs) {
            activity = true; // poll again soon
            continue;
          }
        }
        const slurmOutput = join(part.dir, `slurm-${part.jobId}_${inst.index}.out`);
        const outcome = outcomeOf(el, {
          instanceId: inst.id,
          killOrdered: inst.killOrdered,
          memoryBytes: part.memoryBytes,
          runtimeSeconds: part.runtimeSeconds,
          ...(el.state === "COMPLETED" ? {} : { stderrTail: readTail(inst.stderr) }),
          ...(el.state === "COMPLETED" ? {} : { slurmOutputTail: readTail(slurmOutput, 4096) }),
        });
        if (outcome) {
          report(inst, outcome, el.state);
          activity = true;
          ended++;
        }
      }
    }
    state.persist();
    const fields = {
      cycle: counters.pollCycles,
      ended,
      live: state.liveCount,
      jobs: parts.length,
      sacct_calls: cmds.calls.sacct,
      sbatch_calls: cmds.calls.sbatch,
      poll_interval_s: poller.interval.ms / 1000,
    };
    if (ended > 0) log.info(fields, "poll cycle");
    else log.debug(fields, "poll cycle");
    return activity;
  }

  /** One cycle at a time (the poller's and pollNow's). */
  let inCycle: Promise<boolean> | undefined;
  async function serialCycle(): Promise<boolean> {
    while (inCycle) await inCycle.catch(() => false);
    inCycle = pollCycle();
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
      await handleLaunch(msg.data, ctx.delivery);
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
      const ours = await handleKill(msg.data.instance_ids, msg.data.reason);
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
    outcomes,
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
