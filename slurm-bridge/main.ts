/**
 * The slurm-bridge daemon, for a cluster's login node: `tsx slurm-bridge/main.ts`.
 * Needs NATS and the Slurm commands (sbatch, sacct, squeue, scancel, scontrol), never the
 * database. Settings: the common configuration (DROVER_NATS_URL, DROVER_HOME,
 * DROVER_LOG_DIR, …) plus DROVER_SLURM_* (options.ts): poll interval, state directory,
 * tag prefix. SIGTERM/SIGINT stop it (jobs keep running in Slurm; a restarted bridge
 * re-adopts them); a second signal exits at once.
 */
import { hostname } from "node:os";
import { connectConfigured } from "../bus/connect.ts";
import { loadConfig } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { startMetricsServer } from "../core/metrics.ts";
import { stopOnSignals } from "../core/signals.ts";
import { startSlurmBridge } from "./bridge.ts";
import { bridgeOptions, loadSlurmSettings } from "./options.ts";

const config = loadConfig();
const settings = loadSlurmSettings(config);
const log = createLogger({ name: "slurm-bridge", level: config.logLevel });
const metrics =
  config.metricsPort > 0 ? await startMetricsServer({ port: config.metricsPort, log }) : undefined;
const nc = await connectConfigured(config, `drover-slurm-bridge-${hostname()}-${process.pid}`);
// Signals are taken from the start: a SIGTERM while the bridge is still starting waits
// for it to be up, then stops it cleanly.
const started = startSlurmBridge({ nc, log, ...bridgeOptions(config, settings) }).catch(
  (err: Error) => {
    log.fatal({ err }, "slurm bridge failed to start");
    process.exit(1);
  },
);
stopOnSignals(async () => {
  await (await started).stop();
  await nc.drain();
  await metrics?.close();
}, log);
await started;
