/**
 * Runs Drover functions in this process: `tsx functions/main.ts [name ...]` (all when
 * none is named). Each function is a durable JetStream consumer shared by every replica,
 * so starting this N times scales it. SIGTERM/SIGINT drain in-flight messages, then exit;
 * a second signal exits at once.
 */
import { connectBus } from "../bus/connect.ts";
import { type RunningFunction, startFunction } from "../bus/runtime.ts";
import { loadConfig } from "../core/config.ts";
import { createLogger } from "../core/log.ts";
import { stopOnSignals } from "../core/signals.ts";
import { createSql } from "../db/connect.ts";
import { migrate } from "../db/migrate.ts";
import { createFunctions, services } from "./registry.ts";

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
  const sql = createSql(config.databaseUrl, {
    max: 10,
    application: `drover:${selected.join(",")}`,
  });
  await migrate(sql, { log });
  const nc = await connectBus(config.natsUrl, `drover:${selected.join(",")}`);
  const running: RunningFunction[] = [];
  for (const name of selected) {
    const service = services[name];
    running.push(
      service
        ? await service.start({ nc, sql, log })
        : await startFunction(functions[name]!, { nc, sql, log }),
    );
  }
  return {
    async stop() {
      await Promise.all(running.map((r) => r.stop()));
      await nc.drain();
      await sql.end({ timeout: 5 });
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Signals are taken from the start: a SIGTERM while functions are still starting waits
  // for them to be up, then drains them.
  const started = runFunctions(process.argv.slice(2)).catch((err: Error) => {
    console.error(err.message);
    process.exit(2);
  });
  stopOnSignals(async () => (await started).stop());
}
