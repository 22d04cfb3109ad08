import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { connectConfigured } from "../bus/connect.ts";
import { loadConfig } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { startMetricsServer } from "../core/metrics.ts";
import { stopOnSignals } from "../core/signals.ts";
import { LOCAL_CLUSTERS, startLocalBridge } from "./bridge.ts";

/**
 * The local bridge process: `tsx local-bridge/main.ts [--clusters local,dummy]`.
 * Configuration from `loadConfig()` (NATS URL, local slots, log directory). SIGTERM or
 * SIGINT stops it gracefully (running commands are stopped and reported lost, so they
 * are retried); a second signal exits at once.
 */

const { values } = parseArgs({
  options: { clusters: { type: "string", default: LOCAL_CLUSTERS.join(",") } },
});
const config = loadConfig();
const log = createLogger({ name: "local-bridge", level: config.logLevel });
const metrics =
  config.metricsPort > 0 ? await startMetricsServer({ port: config.metricsPort, log }) : undefined;
const nc = await connectConfigured(config, `drover-local-bridge-${hostname()}-${process.pid}`);
// Signals are taken from the start: a SIGTERM while the bridge is still starting waits
// for it to be up, then stops it cleanly.
const started = startLocalBridge({
  nc,
  streamReplicas: config.streamReplicas,
  log,
  slots: config.localSlots,
  logDir: config.logDir,
  memory: config.localMemory,
  clusters: (values.clusters ?? "").split(",").filter(Boolean),
});

stopOnSignals(async () => {
  await (await started).stop();
  await nc.drain();
  await metrics?.close();
}, log);
await started;
