// The local bridge's spawner: commands it starts behave as commands started by the bridge
// itself (output, exit codes, signals, the reasons a command cannot start), and neither
// its death nor the bridge's leaves a command running unreported.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { MemorySampler, treeMembers } from "../worker/proc.ts";
import { runCommand } from "../worker/run-command.ts";
import { SPAWNER_STOPPED, SpawnerProcess } from "./spawner-process.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const sampler = new MemorySampler(250);
let dir: string;
let bundle: string;

/** Whether any live process is left of the tree led by `leader` (zombies are not). */
const treeAlive = (leader: number) => treeMembers(leader).length > 0;

/** Whether a process runs (a zombie does not) */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function until(what: string, ms: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "drover-spawner-"));
  // Built from the sources under test, beside a worker bundle, as `npm ci` builds them.
  execFileSync(
    process.execPath,
    ["scripts/build-worker.mjs", "--outfile", join(dir, "drover-worker.mjs")],
    { stdio: "ignore" },
  );
  bundle = join(dir, "drover-spawner.mjs");
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe("the spawner", () => {
  let spawner: SpawnerProcess;
  before(() => {
    spawner = new SpawnerProcess(quiet, bundle);
  });
  after(() => spawner.close());

  const run = (command: string, name: string, extra: { cwd?: string } = {}) =>
    runCommand({
      command,
      stdout: join(dir, `${name}.out`),
      stderr: join(dir, `${name}.err`),
      env: { PATH: process.env.PATH, GREETING: "hello" },
      sampler,
      launcher: spawner,
      ...extra,
    });

  test("runs a command in its folder and environment, output in owner-only files", async () => {
    const outcome = await run('echo "$GREETING from $(pwd)"; echo oops >&2; exit 3', "basic", {
      cwd: dir,
    }).done;
    assert.equal(outcome.exitCode, 3);
    assert.equal(outcome.spawnError, undefined);
    assert.equal(readFileSync(join(dir, "basic.out"), "utf8"), `hello from ${dir}\n`);
    assert.equal(outcome.stderrTail, "oops\n");
    assert.equal(statSync(join(dir, "basic.out")).mode & 0o777, 0o600);
    // The parent of every command holds none of the bridge's settings.
    assert.equal(readFileSync(`/proc/${spawner.pid}/environ`, "utf8"), "");
  });

  test("a command killed by a signal ends with that signal", async () => {
    const outcome = await run("kill -9 $$", "signal").done;
    assert.equal(outcome.signal, "SIGKILL");
  });

  test("one that cannot start says why, in the bridge's own words", async () => {
    const missing = join(dir, "no-such-folder");
    const outcome = await run("true", "nowhere", { cwd: missing }).done;
    assert.equal(outcome.spawnError, `cannot run in the working folder ${missing}: no such folder`);
    const unwritable = await runCommand({
      command: "true",
      stdout: join(dir, "no-such-folder", "x.out"),
      stderr: join(dir, "no-such-folder", "x.err"),
      env: {},
      sampler,
      launcher: spawner,
    }).done;
    assert.match(unwritable.spawnError ?? "", /^cannot open the output files: ENOENT/);
  });

  test("a stop order reaches the whole tree of a running command", async () => {
    const command = run("sleep 30 & sleep 30; wait", "stopped");
    await until("started", 5000, () => command.pid !== undefined);
    command.stop("killed", "by a test");
    const outcome = await command.done;
    assert.equal(outcome.stoppedFor, "killed");
    assert.equal(treeAlive(command.pid!), false);
  });

  test("killed itself: its commands are reported lost, none is left, and the next starts it again", async () => {
    const command = run("sleep 30", "orphan");
    await until("started", 5000, () => command.pid !== undefined);
    const first = spawner.pid!;
    process.kill(first, "SIGKILL");
    const outcome = await command.done;
    assert.equal(outcome.stoppedFor, "lost");
    assert.equal(outcome.stopDetail, SPAWNER_STOPPED);
    assert.equal(treeAlive(command.pid!), false);
    const next = await run("echo again", "again").done;
    assert.equal(next.exitCode, 0);
    assert.notEqual(spawner.pid, first);
  });
});

test("the bridge killed: its spawner kills what it started, and exits", async () => {
  // A stand-in for the bridge: starts a long command through a spawner, says its pid.
  const script = join(dir, "bridge.mts");
  writeFileSync(
    script,
    `import { SpawnerProcess } from ${JSON.stringify(resolve("local-bridge/spawner-process.ts"))};
const spawner = new SpawnerProcess(console, ${JSON.stringify(bundle)});
const launched = spawner.launch({ argv: ["-c", "sleep 60"], env: {}, stdout: "/dev/null", stderr: "/dev/null" });
const started = await launched.started;
console.log(JSON.stringify({ ...started, spawner: spawner.pid }));
setInterval(() => {}, 1000);
`,
  );
  const bridge = spawn(process.execPath, ["--import", "tsx", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    bridge.stdout.once("data", (d) => resolve(String(d)));
    bridge.once("exit", (code) => reject(new Error(`the stand-in bridge exited ${code}`)));
  });
  const { pid, spawner } = JSON.parse(line) as { pid: number; spawner: number };
  assert.ok(treeAlive(pid));
  bridge.kill("SIGKILL");
  await until("the command is gone", 5000, () => !treeAlive(pid));
  await until("the spawner is gone", 5000, () => !alive(spawner));
});
