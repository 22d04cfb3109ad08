// drover gui: run the web GUI alone, attached (the stack started by `drover up` runs one too).
import { createLogger } from "../../core/log.ts";
import { runGui } from "../../gui/main.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { cliConfig } from "../context.ts";

export const command = defineCommand({
  name: "gui",
  summary: "run the web GUI (monitoring, errors, resources, stop/resume) in the foreground",
  usage: `Usage: drover gui [--port N] [--json]

Serve the web GUI and its JSON API until interrupted (Ctrl-C). It reads Postgres
through a read-only connection and sends stop, resume, concurrency and set-status
through the command service of a running stack.

Options:
  --port N    listen on port N (default: DROVER_GUI_PORT, 4280)
  --json      print {"url", "database"} once listening
  -h, --help  show this help

Environment:
  DROVER_GUI_PORT      port (default 4280)
  DROVER_GUI_HOST      address to listen on (default 127.0.0.1: this machine only)
  DROVER_DATABASE_URL  Postgres to read
  DROVER_NATS_URL      NATS for live updates and commands

Example:
  drover gui --port 8080
`,
  options: { port: { type: "string" }, json: { type: "boolean" } },
  async run({ values, json }, io) {
    const config = cliConfig(io);
    let port: number | undefined;
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) {
        throw new CliError(`--port must be a port number (1-65535), not '${values.port}'`, 2);
      }
    }
    const log = createLogger({ name: "drover-gui", level: config.logLevel });
    const gui = await runGui(config, log, port === undefined ? {} : { port }).catch((err) => {
      throw new CliError(`the GUI could not start: ${(err as Error).message}`, 1, { cause: err });
    });
    if (json) writeJson(io, { url: gui.openUrl, database: gui.database });
    else io.stdout(`Drover GUI at ${gui.openUrl} (database: ${gui.database}); Ctrl-C stops it\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await gui.stop();
    return 0;
  },
});
