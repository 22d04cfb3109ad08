/**
 * A complete local Drover in one process: every function and service, the local bridge
 * serving `local`, `sequential` and `dummy`, the slurm-bridge when `sbatch` is on the PATH
 * and `scontrol ping` answers, and the web GUI. `drover up` starts it in the
 * background; `drover up --foreground` runs it attached. When it is ready it writes the
 * stack file (`$DROVER_HOME/stack.json`) so that commands in other shells find it; it
 * removes the file when it stops.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { startLocalBridge } from "../bridges/local/bridge.ts";
import { connectBus } from "../bus/connect.ts";
import { loadConfig, stackFilePath } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { stopOnSignals } from "../core/signals.ts";
import { ensureDatabase } from "../db/connect.ts";
import { runFunctions } from "../functions/main.ts";
import { runGui } from "../gui/main.ts";
import { startSlurmBridgeIfAvailable } from "../slurm-bridge/auto.ts";

export interface StackFile {
  pid: number;
  natsUrl: string;
  databaseUrl: string;
  guiPort: number;
  /** private services started by `drover up`, stopped by `drover down` */
  privateServices: boolean;
  startedAt: string;
}

export function readStackFile(home: string): StackFile | null {
  try {
    return JSON.parse(readFileSync(stackFilePath(home), "utf8")) as StackFile;
  } catch {
    return null;
  }
}

export async function runStack(options: {
  privateServices: boolean;
}): Promise<{ stop(): Promise<void> }> {
  const config = loadConfig();
  const log = createLogger({ name: "drover-stack", level: config.logLevel });
  await ensureDatabase(config.databaseUrl);
  const functions = await runFunctions([]);
  const nc = await connectBus(config.natsUrl, "drover-local-bridge");
  const bridge = await startLocalBridge({
    nc,
    log,
    slots: config.localSlots,
    logDir: config.logDir,
    memory: config.localMemory,
  });
  // The GUI is a convenience: a busy port must not keep the workflows from running.
  const gui = await runGui(config, log).catch((err: Error) => {
    log.warn({ err, port: config.guiPort }, "gui not started");
    return null;
  });
  const slurm = await startSlurmBridgeIfAvailable(nc, log, config);
  const file = stackFilePath(config.home);
  mkdirSync(dirname(file), { recursive: true });
  const state: StackFile = {
    pid: process.pid,
    natsUrl: config.natsUrl,
    databaseUrl: config.databaseUrl,
    guiPort: config.guiPort,
    privateServices: options.privateServices,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
  log.info({ slots: config.localSlots, logDir: config.logDir, gui: gui?.url }, "stack ready");
  return {
    async stop() {
      await gui?.stop();
      await bridge.stop();
      await slurm?.stop();
      await nc.drain();
      await functions.stop();
      const current = readStackFile(config.home);
      if (current?.pid === process.pid) rmSync(file, { force: true });
      log.info("stack stopped");
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stack = await runStack({
    privateServices: process.env.DROVER_PRIVATE_SERVICES === "1",
  }).catch((err: Error) => {
    console.error(`drover stack failed to start: ${err.message}`);
    process.exit(1);
  });
  stopOnSignals(() => stack.stop());
}
