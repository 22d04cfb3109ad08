// drover up: start a complete local stack in the background (or attached).

import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultHome } from "../../core/config.ts";
import { moduleArgs, PACKAGE_ROOT, SERVICES_SCRIPT } from "../../core/package-root.ts";
import { openPrivateAppend, privateDir } from "../../core/private-files.ts";
import { redactUrls } from "../../core/redact.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { ensurePersonalNats, stopPersonalNats } from "../personal-nats.ts";
import { isAlive, readStackFile } from "../stack-file.ts";

/**
 * Makes Postgres and NATS answer: the configured ones when they do, else private ones
 * (installed from Debian when missing) — deploy/local/services.sh decides and says which.
 */
function ensureServices(env: Record<string, string | undefined>): {
  env: Record<string, string>;
  private: boolean;
} {
  const result = spawnSync("bash", [SERVICES_SCRIPT, "up"], {
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
answers, and the web GUI (http://127.0.0.1:4280/?token=…, DROVER_GUI_PORT; the token
lets the browser that opens it act). Uses the configured Postgres when it answers, else
starts a private one (installing it from Debian when missing). NATS is the stack's own,
authenticated with credentials it makes ($DROVER_HOME/credentials.json is yours, found
by every drover command), unless credentials for an external NATS are configured
(DROVER_CREDENTIALS, or a credentials.json from 'drover admin add'). Returns once the stack is ready
and leaves it running; other drover commands find it through $DROVER_HOME/stack.json.

Options:
  --foreground  stay attached (Ctrl-C stops the stack)
  --json        print {"pid", "nats_url", "database_url", "log"}
  -h, --help    show this help

Environment:
  DROVER_HOME          where the stack file and logs go (default ~/.drover)
  DROVER_NATS_URL      NATS to use, with DROVER_CREDENTIALS
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
          nats_url: redactUrls(running.natsUrl),
          database_url: redactUrls(running.databaseUrl),
          already: true,
        });
      else
        io.stdout(
          `drover is already up (pid ${running.pid}, NATS ${redactUrls(running.natsUrl)})\n`,
        );
      return 0;
    }
    // An external NATS only with credentials for it (a site's, from drover admin);
    // otherwise a NATS of the stack's own, authenticated with credentials made for it.
    const external =
      Boolean(io.env.DROVER_CREDENTIALS) ||
      (existsSync(join(home, "credentials.json")) && !existsSync(join(home, "nats")));
    const services = ensureServices(
      external ? io.env : { ...io.env, DROVER_SERVICES_ONLY: "postgres" },
    );
    const own = external ? undefined : await ensurePersonalNats(home);
    const env = {
      ...io.env,
      ...services.env,
      ...(own
        ? {
            DROVER_NATS_URL: own.url,
            DROVER_CREDENTIALS: own.serviceCredentials,
            DROVER_BRIDGE_CREDENTIALS: own.userCredentials,
          }
        : {}),
      DROVER_HOME: home,
      DROVER_PRIVATE_SERVICES: services.private ? "1" : "0",
    };
    const args = moduleArgs("cli/stack.ts");
    if (values.foreground) {
      // Its own process group: Ctrl-C on the terminal reaches this process only, which
      // passes it on once. Sharing the group, the stack would get it twice, and a second
      // signal means "exit now" to it, cutting its clean stop short.
      const child = spawn(process.execPath, args, {
        env,
        stdio: "inherit",
        cwd: PACKAGE_ROOT,
        detached: true,
      });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on("SIGINT", forward);
      process.on("SIGTERM", forward);
      const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
      // Attached, it stops what it started: its own NATS too (as 'drover down' would).
      if (own) await stopPersonalNats(home);
      return code;
    }
    privateDir(home);
    privateDir(join(home, "logs"));
    const logFile = join(home, "logs", "stack.log");
    const out = openPrivateAppend(logFile);
    const child = spawn(process.execPath, args, {
      env,
      stdio: ["ignore", out, out],
      detached: true,
      cwd: PACKAGE_ROOT,
    });
    child.unref();
    const deadline = Date.now() + 60_000;
    let state: ReturnType<typeof readStackFile> = null;
    for (;;) {
      state = readStackFile(home);
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
        nats_url: redactUrls(env.DROVER_NATS_URL ?? ""),
        database_url: redactUrls(services.env.DROVER_DATABASE_URL ?? ""),
        log: logFile,
        ...(state?.guiUrl ? { gui_url: state.guiUrl } : {}),
      });
    } else {
      io.stdout(
        `drover is up (pid ${child.pid}); NATS ${redactUrls(env.DROVER_NATS_URL ?? "")}; log ${logFile}\n`,
      );
      // With its token: the browser that opens it may act (stop, resume…).
      if (state?.guiUrl) io.stdout(`GUI ${state.guiUrl}\n`);
    }
    // The environment wins over the stack file: a NATS URL left in it (a site's, or the
    // one services.sh printed) would send every later command past this stack.
    if (own && io.env.DROVER_NATS_URL && io.env.DROVER_NATS_URL !== own.url) {
      io.stderr(
        `drover up: note: this stack runs its own NATS (${own.url}), not DROVER_NATS_URL (${redactUrls(io.env.DROVER_NATS_URL)}), which has no credentials (DROVER_CREDENTIALS); unset DROVER_NATS_URL so that drover commands find the stack\n`,
      );
    }
    return 0;
  },
});
