import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { personCredentialsPath } from "../bus/credentials.ts";
import { createPublisher } from "../bus/publish.ts";
import { type Account, lookupAccount } from "../core/account.ts";
import { userFromToken } from "../core/identity.ts";
import type { Logger } from "../core/log.ts";
import { announceQueues } from "../slurm-bridge/announce.ts";
import { SlurmCommands } from "../slurm-bridge/commands.ts";
import { personCgroup } from "./cgroup.ts";
import { BridgeHeartbeats, waitingWork } from "./demand.ts";
import { type BridgeStart, bridgeLogFile, spawnBridge } from "./spawn.ts";

/**
 * The supervisor of a login node (run by root): starts a bridge as person P whenever P
 * has launch batches or kill orders waiting on one of this node's clusters and no live
 * bridge, and restarts a bridge it started when it dies, so that a workflow finishes
 * after its submitter's client and bridge are both gone. A bridge heard from elsewhere
 * (the person's own `drover bridge`, another login node) counts as live. It never
 * starts one as root, or as an account below `minUid`, or for someone without
 * credentials on this host.
 *
 * Its bridges outlive it: a restarted supervisor hears their heartbeats and leaves them
 * be. It announces the Slurm cluster's partitions as queues (people's bridges may not),
 * so that a submission to it is accepted before any bridge has run.
 */

export interface SupervisorOptions {
  nc: NatsConnection;
  log: Logger;
  /** the clusters this node's bridges serve (local ones, the Slurm cluster) */
  clusters: readonly string[];
  /** the one of `clusters` that is Slurm's: its partitions are announced as queues */
  slurmCluster?: string | undefined;
  /** the `drover` entry point the bridges run */
  entry: string;
  /** the environment bridges inherit from (filtered: see spawn.ts) */
  env: NodeJS.ProcessEnv;
  intervalMs?: number;
  /** a bridge not heard from for this long is not live (default 3 heartbeats: 15 s) */
  staleMs?: number;
  /** lowest uid a bridge runs as (default 1000: no system accounts) */
  minUid?: number;
  /** give each person a memory cgroup subtree (default true) */
  cgroups?: boolean;
  /** how bridges are started (tests may wrap it) */
  spawn?: (start: BridgeStart) => ChildProcess;
}

interface Supervised {
  child: ChildProcess;
  startedAt: number;
  /** deaths in a row of bridges that did not live a minute: the restart backs off */
  failures: number;
  /** not before this time (after a death) */
  restartAt: number;
  exited: boolean;
  /** it died (signal or failure) rather than stopping cleanly: it is restarted */
  died: boolean;
}

export interface Supervisor {
  /** the bridges started so far, by person: pid and start time, newest last */
  readonly started: ReadonlyMap<string, { pid: number; at: number }[]>;
  /** one pass: who needs a bridge, then start them */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 5 * 60_000;

export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { nc, log } = options;
  const jsm = await jetstreamManager(nc);
  const heartbeats = new BridgeHeartbeats();
  heartbeats.listen(nc);
  const queues = options.slurmCluster
    ? await announceQueues(
        { cluster: options.slurmCluster, cmds: new SlurmCommands(), log },
        createPublisher(nc, jetstream(nc)).publish,
      )
    : undefined;
  const staleMs = options.staleMs ?? 15_000;
  const minUid = options.minUid ?? 1000;
  const bridges = new Map<string, Supervised>();
  const started = new Map<string, { pid: number; at: number }[]>();
  const refused = new Set<string>();
  const spawn = options.spawn ?? spawnBridge;

  const refuse = (token: string, why: string) => {
    if (refused.has(`${token}:${why}`)) return;
    refused.add(`${token}:${why}`);
    log.warn({ person: userFromToken(token), why }, "no bridge started");
  };

  const accountOf = (token: string): Account | undefined => {
    let account: Account;
    try {
      account = lookupAccount(userFromToken(token));
    } catch (err) {
      refuse(token, (err as Error).message);
      return undefined;
    }
    if (account.uid === 0 || account.uid < minUid) {
      refuse(token, `uid ${account.uid} is below ${minUid}: bridges never run as system accounts`);
      return undefined;
    }
    if (!existsSync(personCredentialsPath(account))) {
      refuse(token, `no credentials at ${personCredentialsPath(account)} (drover admin add)`);
      return undefined;
    }
    return account;
  };

  const start = (token: string, previous: Supervised | undefined) => {
    const account = accountOf(token);
    if (!account) return;
    const cgroup = options.cgroups === false ? undefined : personCgroup(account);
    if (cgroup && "unavailable" in cgroup) {
      refuse(token, `no memory cgroup (${cgroup.unavailable}): commands are limited by sampling`);
    }
    const child = spawn({
      account,
      clusters: options.clusters,
      cgroup: cgroup && !("unavailable" in cgroup) ? cgroup : undefined,
      entry: options.entry,
      env: options.env,
    });
    const entry: Supervised = {
      child,
      startedAt: Date.now(),
      failures: previous?.failures ?? 0,
      restartAt: 0,
      exited: false,
      died: false,
    };
    bridges.set(token, entry);
    started.set(token, [...(started.get(token) ?? []), { pid: child.pid ?? 0, at: Date.now() }]);
    log.info(
      {
        person: account.name,
        pid: child.pid,
        clusters: options.clusters,
        log: bridgeLogFile(account),
      },
      "bridge started",
    );
    child.on("error", (err) => log.error({ err, person: account.name }, "bridge did not start"));
    child.on("exit", (code, signal) => {
      entry.exited = true;
      entry.died = code !== 0;
      // A bridge that lived a while had a fair run: its death starts the back-off afresh.
      const lived = Date.now() - entry.startedAt;
      entry.failures = entry.died ? (lived > 60_000 ? 1 : entry.failures + 1) : 0;
      entry.restartAt = entry.died
        ? Date.now() + Math.min(1000 * 2 ** (entry.failures - 1), MAX_BACKOFF_MS)
        : 0;
      // Its last heartbeats are not a live bridge's.
      heartbeats.forget(token);
      (entry.died ? log.warn.bind(log) : log.info.bind(log))(
        { person: account.name, pid: child.pid, code, signal },
        entry.died ? "bridge died; it is restarted" : "bridge stopped",
      );
    });
  };

  const tick = async () => {
    const waiting = await waitingWork(jsm, options.clusters);
    const wanted = new Set(waiting.keys());
    for (const [token, b] of bridges) if (b.exited && b.died) wanted.add(token);
    for (const token of wanted) {
      const ours = bridges.get(token);
      if (ours && !ours.exited) continue;
      if (ours && Date.now() < ours.restartAt) continue;
      const clusters = waiting.get(token) ?? [];
      // Someone else's bridge for this person (their own, another node's) serves them.
      if (clusters.length > 0 && clusters.every((c) => heartbeats.alive(token, c, staleMs))) {
        continue;
      }
      start(token, ours);
    }
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    try {
      await tick();
    } catch (err) {
      log.error({ err }, "supervisor pass failed; the next one tries again");
    }
    if (!stopped) timer = setTimeout(() => void loop(), options.intervalMs ?? 5000);
  };
  void loop();

  return {
    started,
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      heartbeats.close();
      queues?.stop();
      for (const b of bridges.values()) b.child.unref();
    },
  };
}
