// drover down: stop the stack that `drover up` started (and its private services).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { defaultHome, stackFilePath } from "../../core/config.ts";
import { SERVICES_SCRIPT } from "../../core/package-root.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { stopPersonalNats } from "../personal-nats.ts";
import { isAlive, readStackFile } from "../stack-file.ts";

export const command = defineCommand({
  name: "down",
  summary: "stop the local stack started by 'drover up'",
  usage: `Usage: drover down [--json]

Stop the stack started by 'drover up': in-flight messages are finished, running local
commands are stopped (their tasks are retried on the next 'up'), and private Postgres and
NATS that 'up' started are stopped too. Data is kept.

Options:
  --json      print {"stopped": true|false}
  -h, --help  show this help

Example:
  drover down
`,
  options: { json: { type: "boolean" } },
  async run({ json }, io) {
    const home = io.env.DROVER_HOME || defaultHome(io.env as NodeJS.ProcessEnv);
    const state = readStackFile(home);
    let stopped = false;
    if (state && isAlive(state.pid)) {
      process.kill(state.pid, "SIGTERM");
      const deadline = Date.now() + 30_000;
      while (isAlive(state.pid) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      if (isAlive(state.pid)) process.kill(state.pid, "SIGKILL");
      stopped = true;
    }
    rmSync(stackFilePath(home), { force: true });
    await stopPersonalNats(home);
    if (state?.privateServices) {
      const r = spawnSync("bash", [SERVICES_SCRIPT, "down"], {
        encoding: "utf8",
      });
      if (r.status !== 0)
        throw new CliError(`stopping the private services failed: ${r.stderr.trim()}`, 1);
    }
    if (json) writeJson(io, { stopped });
    else io.stdout(stopped ? "drover is down\n" : "drover was not running\n");
    return 0;
  },
});
