/**
 * A complete local Drover in one process: every function and service, the local bridge
 * serving `local`, `sequential` and `dummy`, the slurm-bridge when `sbatch` is on the PATH
 * and `scontrol ping` answers, and the web GUI. `drover up` starts it in the
 * background; `drover up --foreground` runs it attached. When it is ready it writes the
 * stack file (`$DROVER_HOME/stack.json`) so that commands in other shells find it; it
 * removes the file when it stops.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { connectBus, connectConfigured } from "../bus/connect.ts";
import { loadConfig, stackFilePath } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { isMainModule } from "../core/package-root.ts";
import { privateDir, writePrivateFile } from "../core/private-files.ts";
import { stopOnSignals } from "../core/signals.ts";
import { runFunctions } from "../functions/main.ts";
import { runGui } from "../gui/main.ts";
import { startLocalBridge } from "../local-bridge/bridge.ts";
import { startSlurmBridgeIfAvailable } from "../slurm-bridge/auto.ts";
import { ensureDatabase } from "../store/connect.ts";
import { readStackFile, type StackFile } from "./stack-file.ts";

export async function runStack(options: {
  privateServices: boolean;
}): Promise<{ stop(): Promise<void> }> {
  const config = loadConfig();
  const log = createLogger({ name: "drover-stack", level: config.logLevel });
  await ensureDatabase(config.databaseUrl);
  const functions = await runFunctions([]);
  // The bridge serves the stack's user: their credentials where the stack has its own
  // NATS (the functions' are the configured ones).
  const bridgeCredentials = process.env.DROVER_BRIDGE_CREDENTIALS;
  const nc = bridgeCredentials
    ? await connectBus(config.natsUrl, "drover-local-bridge", { credentials: bridgeCredentials })
    : await connectConfigured(config, "drover-local-bridge");
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
  privateDir(dirname(file));
  const state: StackFile = {
    pid: process.pid,
    natsUrl: config.natsUrl,
    databaseUrl: config.databaseUrl,
    guiPort: config.guiPort,
    ...(gui ? { guiUrl: gui.openUrl } : {}),
    privateServices: options.privateServices,
    startedAt: new Date().toISOString(),
  };
  // The owner's only: it holds the database URL and the GUI's token.
  writePrivateFile(file, `${JSON.stringify(state, null, 2)}\n`);
  log.info({ slots: config.localSlots, logDir: config.logDir, gui: gui?.openUrl }, "stack ready");
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

if (isMainModule(import.meta.url)) {
  const stack = await runStack({
    privateServices: process.env.DROVER_PRIVATE_SERVICES === "1",
  }).catch((err: Error) => {
    console.error(`drover stack failed to start: ${err.message}`);
    process.exit(1);
  });
  stopOnSignals(() => stack.stop());
}
