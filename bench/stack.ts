import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { type FreshDatabase, freshDatabase } from "../test/helpers/db.ts";
import { startNats, type TestNats, waitForFunctions } from "../test/helpers/nats.ts";

/**
 * Where the stack's processes write: the benchmark's stderr. Its stdout carries the one
 * JSON document of results, which their log lines must not break.
 */
export const STDERR = 2;

/**
 * A private stack for a benchmark: its own nats-server and database, and Drover's
 * functions as separate processes (so their memory and CPU are theirs, not the bench's).
 */
export interface BenchStack {
  nats: TestNats;
  db: FreshDatabase;
  env: NodeJS.ProcessEnv;
  processes: ChildProcess[];
  startFunctions(names: string[]): Promise<ChildProcess>;
  stop(): Promise<void>;
}

export async function benchStack(): Promise<BenchStack> {
  const [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  const env = {
    ...process.env,
    DROVER_NATS_URL: nats.url,
    DROVER_DATABASE_URL: db.url,
    DROVER_LOG_LEVEL: process.env.DROVER_LOG_LEVEL ?? "warn",
  };
  const processes: ChildProcess[] = [];
  return {
    nats,
    db,
    env,
    processes,
    async startFunctions(names) {
      // DROVER_BENCH_CPU_PROF=<dir>: the functions write a V8 CPU profile there on stop.
      const prof = process.env.DROVER_BENCH_CPU_PROF;
      const flags = prof ? ["--cpu-prof", `--cpu-prof-dir=${prof}`] : [];
      const child = spawn(
        process.execPath,
        [...flags, "--import", "tsx", "functions/main.ts", ...names],
        {
          env,
          stdio: ["ignore", STDERR, STDERR],
        },
      );
      processes.push(child);
      await waitForFunctions(nats.url, names);
      return child;
    },
    async stop() {
      // A profiled process must exit on its own to write its profile.
      const graceful = process.env.DROVER_BENCH_CPU_PROF !== undefined;
      await Promise.all(processes.map((p) => (graceful ? stopGracefully(p) : p.kill("SIGKILL"))));
      await Promise.all([nats.stop(), db.drop()]);
    },
  };
}

async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Peak resident memory of a live process, in MiB (VmHWM). */
export function peakRssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    return Math.round(kb / 1024);
  } catch {
    return null;
  }
}

export function seconds(since: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - since) / 1e6) / 1000;
}
