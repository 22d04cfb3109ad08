/**
 * The GUI on its own connections: `drover gui` and the local stack (`drover up`) start it
 * with runGui; `tsx gui/main.ts` runs it alone. Listens on DROVER_GUI_HOST:DROVER_GUI_PORT
 * (default 127.0.0.1:4280).
 */
import { connectBus } from "../bus/connect.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { connectGuiDatabase } from "./db.ts";
import { type RunningGui, startGui } from "./server.ts";

export async function runGui(
  config: Config,
  log: Logger,
  options: { port?: number } = {},
): Promise<RunningGui & { database: string }> {
  const db = await connectGuiDatabase(config.databaseUrl, log);
  let nc: Awaited<ReturnType<typeof connectBus>> | undefined;
  try {
    nc = await connectBus(config.natsUrl, "drover-gui");
    const gui = await startGui({
      sql: db.sql,
      nc,
      log,
      host: config.guiHost,
      port: options.port ?? config.guiPort,
      dbMode: db.mode,
    });
    const bus = nc;
    return {
      ...gui,
      database: db.mode,
      async stop() {
        await gui.stop();
        await bus.drain().catch(() => {});
        await db.sql.end({ timeout: 5 });
      },
    };
  } catch (err) {
    await nc?.close().catch(() => {});
    await db.sql.end({ timeout: 1 });
    throw err;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const log = createLogger({ name: "drover-gui", level: config.logLevel });
  const gui = await runGui(config, log).catch((err: Error) => {
    console.error(`drover gui failed to start: ${err.message}`);
    process.exit(1);
  });
  console.log(`Drover GUI at ${gui.url} (database: ${gui.database})`);
  const shutdown = () => {
    gui.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
