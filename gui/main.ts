/**
 * The GUI on its own connections: `drover gui` and the local stack (`drover up`) start it
 * with runGui; `tsx gui/main.ts` runs it alone. Listens on DROVER_GUI_HOST:DROVER_GUI_PORT
 * (default 127.0.0.1:4280).
 */
import { connectConfigured } from "../bus/connect.ts";
import { type Config, listSetting, loadConfig } from "../core/config.ts";
import { localUserToken } from "../core/identity.ts";
import { createLogger, type Logger } from "../core/log.ts";
import { startMetricsServer } from "../core/metrics.ts";
import { isMainModule } from "../core/package-root.ts";
import { connectGuiDatabase } from "../store/read/connect.ts";
import { type GuiAuth, newGuiToken } from "./auth.ts";
import { type RunningGui, startGui } from "./server.ts";

/** Who may act, as the configuration says (auth.ts). */
export function guiAuth(config: Config, self: string): GuiAuth {
  if (config.guiAuth === "header") {
    return {
      mode: "header",
      header: config.guiUserHeader,
      trusted: new Set(listSetting(config.guiTrustedProxies)),
    };
  }
  return { mode: "token", token: config.guiToken || newGuiToken(), self };
}

export async function runGui(
  config: Config,
  log: Logger,
  options: { port?: number } = {},
): Promise<RunningGui & { database: string }> {
  const db = await connectGuiDatabase(config.databaseUrl, log);
  let nc: Awaited<ReturnType<typeof connectConfigured>> | undefined;
  try {
    nc = await connectConfigured(config, "drover-gui");
    const gui = await startGui({
      sql: db.sql,
      nc,
      log,
      host: config.guiHost,
      port: options.port ?? config.guiPort,
      dbMode: db.mode,
      // A personal GUI acts as the user who started it (its connection may be a service's).
      auth: guiAuth(config, localUserToken()),
      hosts: listSetting(config.guiHosts),
      maxStreams: config.guiMaxStreams,
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

if (isMainModule(import.meta.url)) {
  const config = loadConfig();
  const log = createLogger({ name: "drover-gui", level: config.logLevel });
  const metrics =
    config.metricsPort > 0
      ? await startMetricsServer({ port: config.metricsPort, log })
      : undefined;
  const gui = await runGui(config, log).catch((err: Error) => {
    console.error(`drover gui failed to start: ${err.message}`);
    process.exit(1);
  });
  console.log(`Drover GUI at ${gui.openUrl} (database: ${gui.database})`);
  const shutdown = () => {
    Promise.all([gui.stop(), metrics?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
