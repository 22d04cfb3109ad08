// Helpers of the slurm-bridge's tests: the real Slurm brought up by deploy/slurm/start.sh,
// a bridge on a private nats-server, and what it publishes, in arrival order.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import { Contracts } from "../../bus/contracts.ts";
import { createPublisher } from "../../bus/publish.ts";
import type {
  BridgeHeartbeat,
  ClusterQueues,
  LaunchBatch,
  TiDone,
  TiError,
  TiLaunched,
  TiRunning,
} from "../../bus/schemas.ts";
import { createLogger, type Logger } from "../../core/log.ts";
import { slurmAnswers } from "../../slurm-bridge/auto.ts";
import {
  type SlurmBridge,
  type SlurmBridgeOptions,
  startSlurmBridge,
} from "../../slurm-bridge/bridge.ts";
import type { Submission } from "../../submission/submission.ts";
import { withoutOwner } from "./bus.ts";
import { startNats, type TestNats } from "./nats.ts";
import type { TestStack } from "./stack.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Brings Slurm up once per test process (fast when it is up already). Returns a skip
 * reason when it cannot: not root (and no Slurm answering), or (outside CI) the script
 * failed. In CI a failure is a failure.
 */
function ensureSlurm(): string | false {
  if (process.getuid?.() !== 0) {
    // Not root: a Slurm that is up already will do.
    return slurmAnswers() ? false : "needs root to start Slurm (deploy/slurm/start.sh)";
  }
  const r = spawnSync("bash", [join(ROOT, "deploy/slurm/start.sh")], {
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status === 0) return false;
  const tail = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-15).join("\n");
  if (process.env.CI === "true") throw new Error(`deploy/slurm/start.sh failed:\n${tail}`);
  return `Slurm could not be started by deploy/slurm/start.sh:\n${tail}`;
}

export const slurmSkip: string | false = ensureSlurm();

/** Logs of the bridge under test: silent unless DROVER_TEST_LOG names a level. */
export function testLogger(name: string): Logger {
  return createLogger({ name, level: process.env.DROVER_TEST_LOG ?? "silent" });
}

export interface Report {
  subject: string;
  id: number;
  at: number;
  kind?: string;
  entry: unknown;
}

/** Every ti.* report and bridge message seen on core NATS, in arrival order. */
export class Seen {
  readonly reports: Report[] = [];
  readonly launched: TiLaunched["instances"] = [];
  readonly queues: ClusterQueues[] = [];
  readonly beats: BridgeHeartbeat[] = [];

  attach(nc: NatsConnection): void {
    nc.subscribe("ti.>", {
      callback: (_e, m) => {
        const at = Date.now();
        const add = (id: number, entry: unknown, kind?: string) =>
          this.reports.push({
            subject: withoutOwner(m.subject),
            id,
            at,
            entry,
            ...(kind ? { kind } : {}),
          });
        if (withoutOwner(m.subject) === "ti.launched") {
          for (const i of m.json<TiLaunched>().instances) {
            this.launched.push(i);
            add(i.id, i);
          }
        }
        if (withoutOwner(m.subject) === "ti.running")
          for (const i of m.json<TiRunning>().instances) add(i.id, i);
        if (withoutOwner(m.subject) === "ti.heartbeat") {
          for (const id of m.json<{ instance_ids: number[] }>().instance_ids) add(id, null);
        }
        if (withoutOwner(m.subject) === "ti.done")
          for (const r of m.json<TiDone>().results) add(r.id, r, "done");
        if (withoutOwner(m.subject) === "ti.error") {
          for (const r of m.json<TiError>().results) add(r.id, r, r.kind);
        }
      },
    });
    nc.subscribe("cluster.queues", {
      callback: (_e, m) => {
        this.queues.push(m.json<ClusterQueues>());
      },
    });
    nc.subscribe("bridge.heartbeat.>", {
      callback: (_e, m) => {
        this.beats.push(m.json<BridgeHeartbeat>());
      },
    });
  }

  /** ti.done / ti.error entries of an instance, first first */
  results(id: number): Report[] {
    return this.reports.filter(
      (r) => r.id === id && (r.subject === "ti.done" || r.subject === "ti.error"),
    );
  }

  first(id: number): Report | undefined {
    return this.results(id)[0];
  }

  count(subject: string, id: number): number {
    return this.reports.filter((r) => r.subject === subject && r.id === id).length;
  }
}

export async function until<T>(
  get: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 60_000,
  what = "condition",
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A slurm-bridge serving a test stack's workflows (its state and logs under `dir`),
 * returned once the partitions it announced are queues that workflows may name.
 */
export async function startStackSlurmBridge(
  stack: Pick<TestStack, "nats" | "sql">,
  name: string,
  dir: string,
  poll: { pollSeconds: number; maxPollSeconds: number },
): Promise<{ nc: NatsConnection; bridge: SlurmBridge }> {
  const nc = await connectBus(stack.nats.url, name);
  let bridge: SlurmBridge | undefined;
  try {
    bridge = await startSlurmBridge({
      nc,
      log: testLogger(name),
      natsUrl: stack.nats.url,
      stateDir: join(dir, "state"),
      logDir: join(dir, "logs"),
      ...poll,
    });
    await until(
      async () =>
        (
          await stack.sql`select 1 from queue q join cluster c on c.id = q.cluster_id
            where c.name = 'slurm' and q.name = 'debug'`
        ).length > 0,
      20_000,
      "slurm queues registered",
    );
    return { nc, bridge };
  } catch (err) {
    await bridge?.stop();
    await nc.drain();
    throw err;
  }
}

export interface BridgeEnv {
  nats: TestNats;
  nc: NatsConnection;
  dir: string;
  stateDir: string;
  logDir: string;
  seen: Seen;
  bridge: SlurmBridge;
  launch(batch: LaunchBatch): Promise<void>;
  kill(ids: number[], reason?: string): Promise<void>;
  /** waits until the bridge reported every one of `ids` and its reports arrived here */
  settle(ids: readonly number[], ms?: number): Promise<void>;
  /** the current bridge's connection drops dead (the bridge "dies": nothing it does reaches NATS) */
  crash(): Promise<void>;
  /** a second bridge on the same NATS, state and logs (after the first stopped or died) */
  restart(options?: Partial<SlurmBridgeOptions>): Promise<SlurmBridge>;
  stop(): Promise<void>;
}

export async function startBridgeEnv(
  options: Partial<SlurmBridgeOptions> = {},
): Promise<BridgeEnv> {
  const nats = await startNats();
  const nc = await connectBus(nats.url, "slurm-bridge-test");
  const seen = new Seen();
  seen.attach(nc);
  await nc.flush();
  const dir = mkdtempSync(join(tmpdir(), "drover-slurm-test-"));
  const stateDir = join(dir, "state");
  const logDir = join(dir, "logs");
  const log = testLogger("slurm-bridge-test");
  const start = (o: Partial<SlurmBridgeOptions>, conn: NatsConnection) =>
    startSlurmBridge({
      nc: conn,
      log,
      natsUrl: nats.url,
      stateDir,
      logDir,
      pollSeconds: 1,
      maxPollSeconds: 5,
      bridgeHeartbeatMs: 1000,
      ...options,
      ...o,
    });
  const bridgeConns: NatsConnection[] = [await connectBus(nats.url, "slurm-bridge-under-test")];
  const bridges: SlurmBridge[] = [await start({}, bridgeConns[0]!)];
  const publish = createPublisher(nc, jetstream(nc)).publish;
  const env: BridgeEnv = {
    nats,
    nc,
    dir,
    stateDir,
    logDir,
    seen,
    bridge: bridges[0]!,
    launch: (batch) => publish(Contracts.launch, batch),
    kill: (ids, reason = "test kill") =>
      publish(Contracts.kill, { v: 1, instance_ids: ids, reason }, "slurm"),
    async settle(ids, ms = 60_000) {
      await until(() => ids.every((id) => env.bridge.outcomes.has(id)), ms, "the bridge's results");
      await env.bridge.flush();
      await nc.flush();
    },
    async crash() {
      await bridgeConns.at(-1)!.close();
    },
    async restart(o = {}) {
      const conn = await connectBus(nats.url, "slurm-bridge-under-test-2");
      bridgeConns.push(conn);
      const b = await start(o, conn);
      bridges.push(b);
      env.bridge = b;
      return b;
    },
    async stop() {
      await Promise.allSettled(bridges.map((b) => b.stop()));
      await Promise.allSettled(bridgeConns.map((c) => (c.isClosed() ? undefined : c.drain())));
      await nc.drain();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}

let nextBatch = 1;
let nextInstance = 1000;

/** A launch batch of one command per instance (fresh ids each call). */
export function launchBatch(
  commands: string[],
  resources: Partial<LaunchBatch["resources"]> = {},
  more: Partial<LaunchBatch> = {},
): LaunchBatch {
  return {
    v: 1,
    batch_id: nextBatch++,
    workflow_id: 1,
    cluster: "slurm",
    queue: "debug",
    resources: { cores: 1, memory_bytes: 200 * 1024 ** 2, runtime_seconds: 600, ...resources },
    heartbeat_seconds: 2,
    instances: commands.map((command, step) => {
      const id = nextInstance++;
      return { id, task_id: id, step, attempt: 1, name: `t_${id}`, command };
    }),
    ...more,
  };
}

/** sacct's lines for the jobs named with `prefix` (JobID|JobName|State), for assertions. */
export function sacctByPrefix(prefix: string, sinceMinutes = 60): string[][] {
  const r = spawnSync(
    "sacct",
    [
      "--parsable2",
      "--noheader",
      "-X",
      `--starttime=now-${sinceMinutes * 60}`,
      "--format=JobID,JobName,State",
    ],
    { encoding: "utf8" },
  );
  return r.stdout
    .split("\n")
    .map((l) => l.split("|"))
    .filter((f) => f[1]?.startsWith(`${prefix}-`));
}

const MiB = 1024 ** 2;

/** A workflow on cluster slurm, queue debug, 1 core, 200M, 10 min unless overridden. */
export function slurmWorkflow(
  name: string,
  templates: Submission["templates"],
  tasks: Submission["tasks"],
): Submission {
  return {
    tool: { name: "slurm_e2e", version: "1" },
    workflow: {
      name,
      default_cluster: "slurm",
      default_resources: {
        queue: "debug",
        cores: 1,
        memory_bytes: 200 * MiB,
        runtime_seconds: 600,
      },
      default_max_attempts: 3,
      fail_fast: false,
    },
    templates,
    tasks,
  };
}

export const template = (
  name: string,
  command: string,
  extra: Partial<Submission["templates"][number]> = {},
): Submission["templates"][number] => ({
  name,
  command,
  node_args: [],
  task_args: [],
  op_args: [],
  ...extra,
});
