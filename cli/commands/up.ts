// drover up: start a complete local stack in the background (or attached).
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultHome } from "../../core/config.ts";
import { readStackFile } from "../../stack/main.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes Postgres and NATS answer: the configured ones when they do, else private ones
 * (installed from Debian when missing) — deploy/local/services.sh decides and says which.
 */
function ensureServices(env: Record<string, string | undefined>): {
  env: Record<string, string>;
  private: boolean;
} {
  const result = spawnSync("bash", [join(ROOT, "deploy/local/services.sh"), "up"], {
    env: env as NodeJS.ProcessEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.status !== 0) {
    throw new CliError(`could not start Postgres and NATS:\n${result.stderr.trim()}`, 1);
  }
  const urls: Record<string, string> = {};
  for (const line of result.stdout.split("\n")) {
    const m = /^export (DROVER_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) urls[m[1]!] = m[2]!;
  }
  return { env: urls, private: /private/i.test(result.stderr) };
}

export const command = defineCommand({
  name: "up",
  summary: "start a complete local stack (functions, bridges, GUI) in the background",
  usage: `Usage: drover up [--foreground] [--json]

Start every Drover function, the query and command services, the local bridge (clusters
local, sequential, dummy), the slurm-bridge when sbatch is on the PATH and 'scontrol ping'
answers, and the web GUI (http://127.0.0.1:4280/, DROVER_GUI_PORT). Uses the configured NATS and Postgres when they answer, else starts
private ones (installing them from Debian when missing). Returns once the stack is ready
and leaves it running; other drover commands find it through $DROVER_HOME/stack.json.

Options:
  --foreground  stay attached (Ctrl-C stops the stack)
  --json        print {"pid", "nats_url", "database_url", "log"}
  -h, --help    show this help

Environment:
  DROVER_HOME          where the stack file and logs go (default ~/.drover)
  DROVER_NATS_URL      NATS to use when it answers
  DROVER_DATABASE_URL  Postgres to use when it answers

Example:
  drover up && drover submit examples/burden.yaml --wait
`,
  options: { foreground: { type: "boolean" }, json: { type: "boolean" } },
  async run({ values, json }, io) {
    const home = io.env.DROVER_HOME || defaultHome(io.env as NodeJS.ProcessEnv);
    const running = readStackFile(home);
    if (running && isAlive(running.pid)) {
      if (json)
        writeJson(io, {
          pid: running.pid,
          nats_url: running.natsUrl,
          database_url: running.databaseUrl,
          already: true,
        });
      else io.stdout(`drover is already up (pid ${running.pid}, NATS ${running.natsUrl})\n`);
      return 0;
    }
    const services = ensureServices(io.env);
    const env = {
      ...io.env,
      ...services.env,
      DROVER_HOME: home,
      DROVER_PRIVATE_SERVICES: services.private ? "1" : "0",
    };
    const args = ["--import", "tsx", join(ROOT, "stack/main.ts")];
    if (values.foreground) {
      // Its own process group: Ctrl-C on the terminal reaches this process only, which
      // passes it on once. Sharing the group, the stack would get it twice, and a second
      // signal means "exit now" to it, cutting its clean stop short.
      const child = spawn(process.execPath, args, {
        env,
        stdio: "inherit",
        cwd: ROOT,
        detached: true,
      });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on("SIGINT", forward);
      process.on("SIGTERM", forward);
      return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
    }
    mkdirSync(join(home, "logs"), { recursive: true });
    const logFile = join(home, "logs", "stack.log");
    const out = openSync(logFile, "a");
    const child = spawn(process.execPath, args, {
      env,
      stdio: ["ignore", out, out],
      detached: true,
      cwd: ROOT,
    });
    child.unref();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const state = readStackFile(home);
      if (state?.pid === child.pid) break;
      if (child.exitCode !== null || !isAlive(child.pid!)) {
        throw new CliError(`the stack exited while starting; see ${logFile}`, 1);
      }
      if (Date.now() > deadline)
        throw new CliError(`the stack did not become ready within 60 s; see ${logFile}`, 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (json) {
      writeJson(io, {
        pid: child.pid,
        nats_url: services.env.DROVER_NATS_URL,
        database_url: services.env.DROVER_DATABASE_URL,
        log: logFile,
      });
    } else {
      io.stdout(
        `drover is up (pid ${child.pid}); NATS ${services.env.DROVER_NATS_URL}; log ${logFile}\n`,
      );
    }
    return 0;
  },
});
