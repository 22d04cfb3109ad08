import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectionRole } from "../bus/connect.ts";
import { bridgeInstances } from "../bus/metrics.ts";
import { createPublisher } from "../bus/publish.ts";
import type { Logger } from "../core/log.ts";
import { serveLogs } from "../worker/serve-logs.ts";
import { readopt } from "./adopt.ts";
import { bridgeStats, type SlurmBridgeStats, startAnnouncing } from "./announce.ts";
import type { SlurmCommands } from "./commands.ts";
import { startConsumers } from "./consumers.ts";
import type { ReportedOutcome, SubmitBackoff } from "./core.ts";
import { serialPollCycle } from "./poll.ts";
import { Poller } from "./poller.ts";
import { createCore } from "./setup.ts";

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
 * This module wires the daemon: setup.ts builds the core (what launch.ts, poll.ts, kill.ts
 *   and adopt.ts share, core.ts), consumers.ts feeds it launch batches and kill orders,
 *   poller.ts runs poll.ts's cycles, announce.ts publishes heartbeats, counters and queues.
 */

export type { SlurmBridgeStats } from "./announce.ts";
export type { ReportedOutcome } from "./core.ts";
export { DEFAULT_WORKER, deriveTagPrefix } from "./setup.ts";

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
  /** ack wait of the launch consumer, where the bridge may set it (default 60 s) */
  ackWaitMs?: number;
  /** the credentials file the workers report with (default: the bridge connection's) */
  workerCredentials?: string | undefined;
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

export async function startSlurmBridge(options: SlurmBridgeOptions): Promise<SlurmBridge> {
  const publisher = createPublisher(options.nc, jetstream(options.nc));
  const abort = new AbortController();
  // Both reach the poller, built on the core below: nothing calls them before it exists.
  const { id, stateDir, core } = await createCore(options, publisher.publish, abort.signal, {
    kick: () => poller.kick(),
    pollIntervalMs: () => poller.interval.ms,
  });
  const { log, reporter, live, state } = core;
  await readopt(core);
  const cycle = serialPollCycle(core);
  const poller = new Poller({
    minMs: (options.pollSeconds ?? 10) * 1000,
    maxMs: (options.maxPollSeconds ?? 60) * 1000,
    cycle,
    onError: (err) => log.error({ err }, "poll cycle failed"),
  });
  // Announced first: on an authenticated NATS the service makes this person's consumers
  // when it hears of their bridge, and the consumers wait for that.
  const announcing = await startAnnouncing(core, id, publisher.publish, {
    ...options,
    announceQueues: connectionRole(options.nc) !== "person",
  });
  const running = await startConsumers(core, options.nc, options).catch(async (err) => {
    await announcing.stop();
    throw err;
  });
  live.start();
  poller.start();
  // The logs its jobs wrote, for those who cannot read its person's files (a site's GUI).
  const logs = serveLogs(options.nc, core.owner, core.cluster, [options.logDir], log);
  // Slurm holds the slots: what the bridge has is the instances of jobs not yet ended.
  const unmeasure = bridgeInstances.add(() => [
    { labels: { cluster: core.cluster, state: "running" }, value: state.liveCount },
  ]);
  log.info(
    {
      stateDir,
      jobsDir: core.jobsDir,
      logDir: options.logDir,
      maxArraySize: core.maxArraySize,
      live: state.liveCount,
      pollSeconds: options.pollSeconds ?? 10,
    },
    "slurm bridge started",
  );

  const stats = () => bridgeStats(core);
  let stopped: Promise<void> | undefined;
  return {
    id,
    cluster: core.cluster,
    tagPrefix: core.tagPrefix,
    commands: core.cmds,
    stats,
    outcomes: core.outcomes,
    pollNow: cycle,
    flush: () => reporter.flush(),
    stop() {
      stopped ??= (async () => {
        abort.abort();
        await Promise.allSettled(running.map((f) => f.stop()));
        await poller.stop();
        await logs.stop();
        announcing.stop();
        unmeasure();
        live.stop();
        state.persist();
        await reporter.close(10_000);
        log.info(stats(), "slurm bridge stopped");
      })();
      return stopped;
    },
  };
}
