import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectionCredentials, connectionRole, connectionToken } from "../bus/connect.ts";
import { Streams } from "../bus/contracts.ts";
import { personStreams } from "../bus/person-streams.ts";
import type { Publisher } from "../bus/publish.ts";
import { ensureSharedStreams } from "../bus/streams.ts";
import type { Logger } from "../core/log.ts";
import { packagePath } from "../core/package-root.ts";
import { LiveSet } from "../worker/live.ts";
import { Reporter } from "../worker/reporter.ts";
import type { SlurmBridgeOptions } from "./bridge.ts";
import { SlurmCommands } from "./commands.ts";
import { type BridgeCore, type ReportedOutcome, reportingOf } from "./core.ts";
import { readMaxArraySize } from "./sbatch.ts";
import { BridgeState } from "./state.ts";

/**
 * A slurm-bridge's core, built from its options: what it settles once at start (cluster,
 * tag prefix, directories, the cluster's MaxArraySize) and the state its parts share.
 */

export const DEFAULT_WORKER = packagePath("dist/drover-worker.mjs");

/**
 * A prefix unique to this installation and person: its NATS URL, when a stream of the
 * installation was made, and the bridge's person, so that a bridge adopts only its own
 * person's jobs after a restart. The stream is the dead letters' (every function start
 * makes it), or for a person, who may not look at it, their own launch stream (made
 * service-side for every person the site knows).
 */
export async function deriveTagPrefix(
  nc: NatsConnection,
  natsUrl: string,
  owner = connectionToken(nc),
  log?: Logger,
): Promise<string> {
  const jsm = await jetstreamManager(nc);
  const person = connectionRole(nc) === "person";
  // The streams are made here where this connection may (a NATS without permissions: a
  // bridge may start before any function); else awaited until the service has made them.
  if (!person) await ensureSharedStreams(jsm).catch(() => {});
  const marker = person ? personStreams(owner).launch : Streams.dlq.name;
  let created: string | undefined;
  let tries = 0;
  while (created === undefined) {
    try {
      created = (await jsm.streams.info(marker)).created;
    } catch (err) {
      if (tries++ === 0) {
        log?.warn(
          { err, stream: marker },
          "waiting for the stream to exist (the service makes it)",
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const digest = createHash("sha256").update(`${natsUrl}|${created}|${owner}`).digest("hex");
  return `drv${digest.slice(0, 8)}`;
}

export interface BridgeSetup {
  /** this bridge process, as its heartbeats and reports name it */
  id: string;
  stateDir: string;
  core: BridgeCore;
}

/**
 * The core, its state not loaded yet. `poll` is the poller's side of it: the poller is
 * built on the core, so the core reaches it only through these.
 */
export async function createCore(
  options: SlurmBridgeOptions,
  publish: Publisher["publish"],
  signal: AbortSignal,
  poll: Pick<BridgeCore, "kick" | "pollIntervalMs">,
): Promise<BridgeSetup> {
  const cluster = options.cluster ?? "slurm";
  const cmds = options.commands ?? new SlurmCommands();
  const node = options.node ?? process.execPath;
  const worker = options.worker ?? DEFAULT_WORKER;
  if (!existsSync(worker)) {
    throw new Error(`the worker bundle ${worker} is missing: run npm run build:worker`);
  }
  const owner = connectionToken(options.nc);
  const tagPrefix =
    options.tagPrefix ?? (await deriveTagPrefix(options.nc, options.natsUrl, owner, options.log));
  const id = `slurm-${hostname()}-${process.pid}`;
  const log = options.log.child({ bridge: id, cluster, tag: tagPrefix });
  const stateDir = join(options.stateDir, tagPrefix);
  const jobsDir = options.jobsDir ?? join(options.stateDir, tagPrefix, "jobs");
  const clusterMax = await readMaxArraySize(cmds);

  const reporter = new Reporter(publish, log, { reporterId: id });
  const shared = {
    state: new BridgeState(stateDir),
    reporter,
    live: new LiveSet(reporter, 1000),
    reported: { done: 0, error: 0, memory: 0, runtime: 0, lost: 0, killed: 0, unlaunchable: 0 },
    outcomes: new Map<number, ReportedOutcome>(),
  };
  const core: BridgeCore = {
    ...shared,
    ...reportingOf(shared),
    ...poll,
    cluster,
    tagPrefix,
    cmds,
    log,
    signal,
    jobsDir,
    maxArraySize: Math.min(clusterMax, options.maxArraySize ?? clusterMax),
    adoptWindowMs: (options.adoptWindowHours ?? 48) * 3600_000,
    vanishMs: (options.vanishSeconds ?? 60) * 1000,
    missingMs: (options.missingSeconds ?? 600) * 1000,
    // slurmdbd may record a job COMPLETED a moment before its .batch step's MaxRSS.
    rssGraceMs: 5_000,
    owner,
    fileOptions: {
      jobsDir,
      logDir: options.logDir,
      natsUrl: options.natsUrl,
      owner,
      credentials: options.workerCredentials ?? connectionCredentials(options.nc),
      tagPrefix,
      node,
      worker,
    },
    submitBackoff: options.submitBackoff ?? {},
    ...(options.afterSubmit ? { afterSubmit: options.afterSubmit } : {}),
    counters: { pollCycles: 0, batches: 0, partsSubmitted: 0, partsAdopted: 0 },
    earlyKills: new Map<number, string>(),
  };
  return { id, stateDir, core };
}
