// Drover as separate processes, as a site runs it: each function in its own process
// (functions/main.ts <name>), the query and command services together, the local bridge
// on `dummy`, optionally the GUI. Each can be given its own metrics port.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./nats.ts";

/** The JetStream-consuming functions, each run as its own process. */
export const FUNCTION_NAMES = [
  "bind-dag",
  "schedule",
  "launch",
  "heartbeat",
  "complete",
  "retry",
  "reap",
  "register-queues",
] as const;

export interface DroverProcesses {
  /** process key → its metrics URL (when metrics were asked for) */
  metricsUrls: Map<string, string>;
  /** GUI base URL, when started */
  guiUrl: string | undefined;
  /** keys of processes that exited (none should, unless killed on purpose) */
  exited(): string[];
  stop(): Promise<void>;
}

export async function startDroverProcesses(options: {
  natsUrl: string;
  databaseUrl: string;
  metrics?: boolean;
  gui?: boolean;
  env?: Record<string, string>;
}): Promise<DroverProcesses> {
  const base = {
    ...process.env,
    DROVER_NATS_URL: options.natsUrl,
    DROVER_DATABASE_URL: options.databaseUrl,
    DROVER_LOG_LEVEL: "error",
    DROVER_HEARTBEAT_SECONDS: "2",
    DROVER_SWEEP_SECONDS: "1",
    DROVER_HOME: mkdtempSync(join(tmpdir(), "drover-procs-")),
    ...options.env,
  };
  const commands: Record<string, string[]> = {
    bridge: ["local-bridge/main.ts", "--clusters", "dummy"],
    services: ["functions/main.ts", "query", "command"],
  };
  for (const fn of FUNCTION_NAMES) commands[fn] = ["functions/main.ts", fn];
  if (options.gui) commands.gui = ["gui/main.ts"];
  const metricsUrls = new Map<string, string>();
  const children = new Map<string, ChildProcess>();
  let guiUrl: string | undefined;
  for (const [key, args] of Object.entries(commands)) {
    const env: NodeJS.ProcessEnv = { ...base };
    if (options.metrics) {
      const port = await freePort();
      env.DROVER_METRICS_PORT = String(port);
      metricsUrls.set(key, `http://127.0.0.1:${port}/metrics`);
    }
    if (key === "gui") {
      const port = await freePort();
      env.DROVER_GUI_PORT = String(port);
      guiUrl = `http://127.0.0.1:${port}/`;
    }
    const child = spawn(process.execPath, ["--import", "tsx", ...args], {
      env,
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.set(key, child);
  }
  return {
    metricsUrls,
    guiUrl,
    exited: () =>
      [...children].filter(([, c]) => c.exitCode !== null || c.signalCode !== null).map(([k]) => k),
    async stop() {
      await Promise.all(
        [...children.values()].map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGKILL");
          await exited;
        }),
      );
    },
  };
}
