/**
 * Runs Drover functions in this process: `tsx functions/main.ts [name ...]` (all when
 * none is named). Each function is a durable JetStream consumer shared by every replica,
 * so starting this N times scales it. SIGTERM/SIGINT drain in-flight messages, then exit;
 * a second signal exits at once. With DROVER_HEALTH_PORT set, health.ts serves probes.
 */

import type postgres from "postgres";
import { connectConfigured } from "../bus/connect.ts";
import { consumerSpec, type RunningFunction } from "../bus/runtime.ts";
import { loadConfig } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import { createLogger } from "../core/log.ts";
import { type MetricsServer, startMetricsServer } from "../core/metrics.ts";
import { isMainModule } from "../core/package-root.ts";
import { stopOnSignals } from "../core/signals.ts";
import { createSql } from "../store/connect.ts";
import { migrate } from "../store/migrate.ts";
import { startFunction } from "./context.ts";
import { startHealthServer } from "./health.ts";
import { createFunctions, services } from "./registry.ts";

/**
 * How long a stop waits for messages in flight. Past it they are left unacked, and NATS
 * redelivers them after their ack wait to another replica: every handler is idempotent,
 * so cutting one short costs time, never correctness.
 */
export const DRAIN_MS = 20_000;
const NATS_CLOSE_MS = 2_000;
const SQL_END_MS = 5_000;
/** The longest a stop takes; orchestrators give at least this before SIGKILL. */
export const STOP_BUDGET_MS = DRAIN_MS + NATS_CLOSE_MS + SQL_END_MS;

/** Socket errors of a database connection that went away mid-query. */
const LOST_CONNECTION = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"]);

/**
 * A Postgres that stops under a busy function can leave the rejection of a query in
 * flight with no handler: postgres.js rejects it from the socket's error, with no stack
 * leading back to its caller. Node would end the process for it. The handler whose query
 * it was has already failed (its message is redelivered), and the client reconnects on
 * the next query, so the process logs it and goes on. Any other unhandled rejection is
 * a bug and still ends the process.
 */
let surviving = false;
function surviveLostDatabaseConnections(log: Logger): void {
  if (surviving) return;
  surviving = true;
  process.on("unhandledRejection", (reason) => {
    const code = (reason as NodeJS.ErrnoException | undefined)?.code;
    if (code && LOST_CONNECTION.has(code)) {
      log.error({ err: reason }, "a lost connection's error reached no handler; carrying on");
      return;
    }
    throw reason;
  });
}

/** Whether `promise` settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runFunctions(names: string[]): Promise<{ stop(): Promise<void> }> {
  // Services (request/reply, e.g. query) share the namespace and are started alike.
  const config = loadConfig();
  const functions = createFunctions(config);
  const known = [...Object.keys(functions), ...Object.keys(services)];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new Error(`unknown function(s): ${unknown.join(", ")} (known: ${known.join(", ")})`);
  }
  const selected = names.length > 0 ? names : known;
  const log = createLogger({ name: "drover-functions", level: config.logLevel });
  surviveLostDatabaseConnections(log);
  // Up before the slow parts of start-up, so probes see "starting" rather than nothing.
  const sharedPort = config.metricsPort > 0 && config.metricsPort === config.healthPort;
  const health =
    config.healthPort > 0
      ? await startHealthServer({ port: config.healthPort, log, metrics: sharedPort })
      : undefined;
  let metrics: MetricsServer | undefined;
  try {
    if (config.metricsPort > 0 && !sharedPort) {
      metrics = await startMetricsServer({ port: config.metricsPort, log });
    }
  } catch (err) {
    await health?.close();
    throw err;
  }
  const sql = createSql(config.databaseUrl, {
    max: 10,
    application: `drover:${selected.join(",")}`,
  });
  const running: RunningFunction[] = [];
  let nc: Awaited<ReturnType<typeof connectConfigured>> | undefined;
  try {
    await migrateWith(config.migrateDatabaseUrl, sql, log);
    nc = await connectConfigured(config, `drover:${selected.join(",")}`);
    for (const name of selected) {
      const service = services[name];
      running.push(
        service
          ? await service.start({ nc, sql, log })
          : await startFunction(functions[name as keyof typeof functions]!, {
              nc,
              sql,
              log,
              streamReplicas: config.streamReplicas,
              streamMaxBytes: config.streamMaxBytes,
              personMaxBytes: config.personMaxBytes,
            }),
      );
    }
  } catch (err) {
    await health?.close();
    await metrics?.close();
    throw err;
  }
  const bus = nc;
  health?.running({
    nc: bus,
    sql,
    consumers: selected.flatMap((n) => {
      const def = functions[n as keyof typeof functions];
      return def ? [consumerSpec(def)] : [];
    }),
  });
  return {
    async stop() {
      health?.stopping();
      if (!(await settlesWithin(Promise.all(running.map((r) => r.stop())), DRAIN_MS))) {
        log.warn({ drainMs: DRAIN_MS }, "drain timed out: unacked messages will be redelivered");
      }
      if (!(await settlesWithin(bus.drain(), NATS_CLOSE_MS))) await bus.close();
      await sql.end({ timeout: SQL_END_MS / 1000 });
      await health?.close();
      await metrics?.close();
    },
  };
}

/**
 * Applies pending migrations: through the owner's URL where one is configured (a site's
 * functions run as a role that may not change the schema), else through the functions'
 * own connection. Up to date, it only reads.
 */
async function migrateWith(ownerUrl: string, sql: postgres.Sql, log: Logger): Promise<void> {
  if (!ownerUrl) {
    await migrate(sql, { log });
    return;
  }
  const owner = createSql(ownerUrl, { max: 1, application: "drover-migrate" });
  try {
    await migrate(owner, { log });
  } finally {
    await owner.end();
  }
}

if (isMainModule(import.meta.url)) {
  // Signals are taken from the start: a SIGTERM while functions are still starting waits
  // for them to be up, then drains them.
  const started = runFunctions(process.argv.slice(2)).catch((err: Error) => {
    console.error(err.message);
    process.exit(2);
  });
  stopOnSignals(async () => (await started).stop());
}
