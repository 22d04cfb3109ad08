import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { newCredentials, writeCredentials } from "../bus/credentials.ts";
import { authorizationBlock, natsUserOf } from "../bus/nats-config.ts";
import { localUserToken } from "../core/identity.ts";
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
  /** the functions' environment (with their credentials on an authenticated NATS) */
  env: NodeJS.ProcessEnv;
  /** on an authenticated NATS: the user's credentials file (bridges, the client) */
  userCredentials?: string;
  processes: ChildProcess[];
  startFunctions(names: string[]): Promise<ChildProcess>;
  stop(): Promise<void>;
}

/**
 * `auth`: a NATS that authenticates every connection, as a site's does: the functions
 * with theirs, the user (bridges, client) with theirs, each with its permissions.
 */
export async function benchStack(options: { auth?: boolean } = {}): Promise<BenchStack> {
  const keys = options.auth ? benchCredentials() : undefined;
  const [nats, db] = await Promise.all([
    startNats(keys ? { config: keys.config } : {}),
    freshDatabase(),
  ]);
  const env = {
    ...process.env,
    DROVER_NATS_URL: nats.url,
    DROVER_DATABASE_URL: db.url,
    DROVER_LOG_LEVEL: process.env.DROVER_LOG_LEVEL ?? "warn",
    ...(keys ? { DROVER_CREDENTIALS: keys.functions } : {}),
  };
  const processes: ChildProcess[] = [];
  return {
    nats,
    db,
    env,
    ...(keys ? { userCredentials: keys.user } : {}),
    processes,
    async startFunctions(names) {
      const child = spawn(
        process.execPath,
        [...profileFlags(), "--import", "tsx", "functions/main.ts", ...names],
        {
          env,
          stdio: ["ignore", STDERR, STDERR],
        },
      );
      processes.push(child);
      await waitForFunctions(nats.url, names, 30_000, keys?.functions);
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

/**
 * DROVER_BENCH_CPU_PROF=<dir>: the processes a benchmark starts (functions, bridges)
 * write a V8 CPU profile there when they stop.
 */
export function profileFlags(): string[] {
  const dir = process.env.DROVER_BENCH_CPU_PROF;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

/** Credentials for the functions and for the user, and the server's users block. */
function benchCredentials(): { functions: string; user: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), "drover-bench-keys-"));
  const functions = newCredentials("drover-functions", "drover-functions", "function");
  const user = newCredentials(userInfo().username, localUserToken(), "person");
  const paths = { functions: join(dir, "functions.json"), user: join(dir, "user.json") };
  writeCredentials(paths.functions, functions);
  writeCredentials(paths.user, user);
  return { ...paths, config: authorizationBlock([natsUserOf(functions), natsUserOf(user)]) };
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
    // An exited process not yet reaped (a zombie) has a status without VmHWM.
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? Math.round(kb / 1024) : null;
  } catch {
    return null;
  }
}

export function seconds(since: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - since) / 1e6) / 1000;
}
