// Limits that hold, driven through the CLI as a subprocess against a `drover up` stack:
// a limit lowered while its tasks are already handed to the local bridge holds there
// (the tasks' own timestamps), and a paused workflow says so in status, workflows and
// resume.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliStack, cliStackUp, json } from "./helpers/cli.ts";
import { afterChange, maxOverlap, napCommand, spansIn } from "./helpers/spans.ts";

let stack: CliStack;
const cli = (args: string[]) => stack.drover(args);

/** Polls `status --json` until `ready` holds for its counts. */
async function until(wf: number, what: string, ready: (c: Record<string, number>) => boolean) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const counts = json(cli(["status", String(wf), "--json"])).counts as Record<string, number>;
    if (ready(counts)) return counts;
    assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Each task writes when it started and ended (ns since the epoch) to `<dir>/<i>`. */
function napSpec(name: string, dir: string, tasks: number, limit: number, seconds: number): string {
  return `tool: { name: limits_test }
workflow: { name: ${name}, args: { name: ${name} }, default_cluster: local, max_concurrently_running: ${limit} }
templates:
  - name: nap
    command: "${napCommand(dir, seconds)}"
    node_args: [i]
tasks:
  - { template: nap, foreach: { i: [${Array.from({ length: tasks }, (_, i) => i + 1).join(", ")}] } }
`;
}

function submit(
  name: string,
  tasks: number,
  limit: number,
  seconds = 1,
): { wf: number; dir: string } {
  const dir = join(stack.home, name);
  mkdirSync(dir);
  const spec = join(stack.home, `${name}.yaml`);
  writeFileSync(spec, napSpec(name, dir, tasks, limit, seconds));
  const r = cli(["submit", spec, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return { wf: Number(json(r).id), dir };
}

describe("limits that hold", { timeout: 300_000 }, () => {
  before(() => {
    stack = cliStackUp("drover-limits-", { DROVER_LOCAL_SLOTS: "4" });
  });
  after(() => stack?.down());

  test("a limit lowered from 20 to 1 with 20 tasks handed out: then one runs at a time", async () => {
    // Two-second tasks: the change lands while the first ones run, however slow the CLI.
    const { wf, dir } = submit("lowered", 20, 20, 2);
    // All 20 handed to the bridge: 4 run (its slots), 16 wait there.
    await until(wf, "all handed out", (c) => (c.LAUNCHED ?? 0) + (c.RUNNING ?? 0) === 20);
    const lowered = cli(["concurrency", String(wf), "1"]);
    assert.equal(lowered.code, 0, lowered.stderr);
    const changedAt = Date.now();
    const status = cli(["status", String(wf)]);
    assert.match(status.stdout, /^limit: at most 1 of its tasks run at once/m);

    const done = cli(["wait", String(wf)]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const all = spansIn(dir);
    assert.equal(all.length, 20);
    // Those running at the change (started before it, with a second for the order to
    // reach the bridge) finish; once they have ended, one task at a time.
    const { before, later, settled } = afterChange(all, changedAt, 1000);
    assert.ok(maxOverlap(before) >= 2, "before the change, several ran at once");
    assert.ok(later.length >= 6, `${later.length} tasks started after the change settled`);
    assert.equal(maxOverlap(later, settled), 1, JSON.stringify(later));
  });

  test("a paused workflow says so in status, workflows and resume, and runs when raised", async () => {
    const { wf, dir } = submit("held", 3, 0);
    await until(wf, "registered", (c) => (c.QUEUED ?? 0) + (c.REGISTERING ?? 0) === 3);
    const status = cli(["status", String(wf)]);
    assert.match(status.stdout, /^paused: none of its tasks start \(limit 0\)/m);
    const listed = cli(["workflows"]);
    assert.match(listed.stdout, new RegExp(`^\\s*${wf}\\s+held\\s.*\\bpaused\\s`, "m"));
    const rows = json(cli(["workflows", "--json"])).workflows as { id: number; paused: boolean }[];
    assert.deepEqual(
      rows.filter((w) => w.id === wf).map((w) => w.paused),
      [true],
    );

    const stopped = cli(["stop", String(wf)]);
    assert.equal(stopped.code, 0, stopped.stderr);
    const resumed = cli(["resume", String(wf)]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^paused: none of its tasks start/m);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(readdirSync(dir).length, 0, "nothing ran while paused");

    assert.equal(cli(["concurrency", String(wf), "2"]).code, 0);
    const done = cli(["wait", String(wf)]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.ok(maxOverlap(spansIn(dir)) <= 2);
  });
});
