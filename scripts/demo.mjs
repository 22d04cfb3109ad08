#!/usr/bin/env node
// npm run demo: on a machine where nothing runs, installs what is missing, brings a local
// Drover stack up, runs the burden example (97 tasks; one fails once and is retried) with
// a live progress display, prints the result and where to look next. The stack stays up.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (text) => process.stderr.write(`\n\u001b[1m${text}\u001b[0m\n`);

// Once the stack is up, commands find it through its stack file. A NATS URL left in the
// environment (services.sh prints one) would win over that file and miss the stack's own
// NATS, unless it is a site's NATS the stack was started on (with credentials).
const afterUp = { ...process.env };
if (!afterUp.DROVER_CREDENTIALS) delete afterUp.DROVER_NATS_URL;

function drover(args, options = {}) {
  const r = spawnSync(process.execPath, [join(root, "bin/drover.mjs"), ...args], {
    cwd: root,
    env: options.env ?? afterUp,
    stdio: ["ignore", options.capture ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
  });
  return { code: r.status ?? 1, stdout: r.stdout ?? "" };
}

if (!existsSync(join(root, "node_modules/.package-lock.json"))) {
  say("Installing dependencies (npm ci)");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
}

say("Starting the local stack (Postgres, NATS, functions, local bridge)");
const up = drover(["up"], { env: process.env });
if (up.code !== 0) process.exit(up.code);

// A fresh output directory, so that the flaky model run fails once again.
rmSync("/tmp/drover-example", { recursive: true, force: true });
say("Running examples/burden.yaml: 72 model runs -> 24 aggregations -> 1 report");
const run = drover(["submit", "examples/burden.yaml", "--wait", "--json"], { capture: true });
let result;
try {
  result = JSON.parse(run.stdout);
} catch {
  console.error(run.stdout);
  process.exit(run.code || 1);
}
if (result.error) {
  console.error(`demo failed: ${result.error}`);
  process.exit(run.code || 1);
}
say(`Workflow ${result.id} ended ${result.status}`);
for (const [status, n] of Object.entries(result.counts))
  if (n > 0) console.log(`  ${status.padEnd(20)} ${n}`);
const report = spawnSync("sh", ["examples/bin/report.sh", "/tmp/drover-example"], {
  cwd: root,
  encoding: "utf8",
});
if (report.stdout) console.log(`  ${report.stdout.trim()}`);
// The GUI's URL with its token (drover up writes it into the stack file): the browser
// that opens it may act, not only read.
const guiPort = process.env.DROVER_GUI_PORT || "4280";
const home = process.env.DROVER_HOME || join(homedir(), ".drover");
let guiUrl = `http://127.0.0.1:${guiPort}/`;
try {
  guiUrl = JSON.parse(readFileSync(join(home, "stack.json"), "utf8")).guiUrl || guiUrl;
} catch {
  // no stack file: the plain address
}
const next = [
  [`npx drover status ${result.id}`, "counts by status"],
  [`npx drover tasks ${result.id}`, "every task"],
  [`npx drover errors ${result.id}`, "what failed, with stderr (one model run failed once)"],
  ["npx drover task <TASK>", "one task's attempts, logs and resources"],
  [guiUrl, "the web GUI"],
  ["npx drover down", "stop the stack"],
];
console.log("\nWhere to look next:");
for (const [command, what] of next) console.log(`  ${command.padEnd(34)} ${what}`);

process.exit(result.status === "DONE" ? 0 : 1);
