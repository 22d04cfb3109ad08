// The CLI as users run it: a subprocess, exit codes, --json shapes (SPEC.md §2), against
// a stack started by `drover up` on a machine where the configured NATS and Postgres do
// not answer (private ones are started in a directory of this test's own).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TASK_STATUSES } from "../core/statuses.ts";
import { processesWith } from "./helpers/processes.ts";

const home = mkdtempSync(join(tmpdir(), "drover-cli-"));
// Not under the home (0700): the private Postgres runs as the postgres user.
const services = mkdtempSync(join(tmpdir(), "drover-cli-services-"));
const env = {
  ...process.env,
  DROVER_HOME: home,
  DROVER_SERVICES_DIR: services,
  DROVER_NATS_URL: "nats://127.0.0.1:1",
  DROVER_DATABASE_URL: "postgres://postgres@127.0.0.1:1/drover",
  DROVER_LOG_LEVEL: "warn",
};

function drover(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["bin/drover.mjs", ...args], {
    env: { ...env, ...extraEnv },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** drover with the environment's URLs blanked, so it finds the stack through its file. */
function cli(args: string[]) {
  return drover(args, { DROVER_NATS_URL: "", DROVER_DATABASE_URL: "" });
}

function json(r: { stdout: string }): Record<string, unknown> {
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const spec = join(home, "spec.yaml");
writeFileSync(
  spec,
  `tool: { name: cli_test }
workflow: { name: cli test, default_cluster: local }
templates:
  - { name: prep, command: "echo prep {loc}", node_args: [loc] }
  - { name: report, command: "echo report >&2" }
tasks:
  - { template: prep, foreach: { loc: [1, 2, 3] } }
  - { template: report, upstream: [{ template: prep }] }
`,
);

/** Ids of the workflow's DONE tasks, as the CLI lists them. */
function doneTaskIds(wf: string): number[] {
  const r = cli(["tasks", wf, "--status", "DONE", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return (json(r).tasks as { id: number }[]).map((t) => t.id);
}

describe("drover CLI", { timeout: 300_000 }, () => {
  before(() => {
    const up = drover(["up", "--json"]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(String(json(up).nats_url), /^nats:\/\/127\.0\.0\.1:\d+$/);
    assert.match(up.stderr, /runs its own NATS .*unset DROVER_NATS_URL so that drover commands/);
    // Once up, commands find the stack through its file, whatever the environment says.
  });
  after(() => {
    const down = drover(["down", "--json"]);
    rmSync(home, { recursive: true, force: true });
    rmSync(services, { recursive: true, force: true });
    assert.equal(down.code, 0, down.stderr);
  });

  test("submit --wait --json runs a spec file to DONE and prints the final status", () => {
    const r = cli(["submit", spec, "--wait", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = json(r);
    assert.deepEqual(Object.keys(out), ["id", "name", "status", "total", "counts"]);
    assert.equal(out.status, "DONE");
    assert.equal(out.total, 4);
    assert.deepEqual(Object.keys(out.counts as object), [...TASK_STATUSES]);
    assert.equal((out.counts as Record<string, number>).DONE, 4);
    assert.equal(typeof out.id, "number");

    const status = cli(["status", String(out.id), "--json"]);
    assert.equal(status.code, 0);
    assert.deepEqual(json(status), out);

    const tasks = cli(["tasks", String(out.id), "--json"]);
    assert.equal(tasks.code, 0);
    const list = json(tasks).tasks as {
      id: number;
      name: string;
      template: string;
      status: string;
      attempts: number;
    }[];
    assert.equal(json(tasks).workflow, out.id);
    assert.equal(list.length, 4);
    assert.deepEqual(Object.keys(list[0]!), ["id", "name", "template", "status", "attempts"]);
    assert.ok(list.every((t) => t.status === "DONE" && t.attempts === 1));

    const report = list.find((t) => t.name === "report")!;
    const task = cli(["task", String(report.id), "--json"]);
    assert.equal(task.code, 0);
    const detail = json(task);
    assert.deepEqual(Object.keys(detail), [
      "id",
      "name",
      "workflow",
      "status",
      "attempts",
      "command",
      "instances",
    ]);
    const instances = detail.instances as Record<string, unknown>[];
    assert.equal(instances.length, 1);
    assert.deepEqual(Object.keys(instances[0]!), [
      "id",
      "status",
      "exit_code",
      "distributor_id",
      "memory_requested",
      "memory_used",
      "runtime_used",
      "stdout",
      "stderr",
      "error",
    ]);
    assert.equal(instances[0]!.exit_code, 0);

    const errors = cli(["errors", String(out.id), "--json"]);
    assert.equal(errors.code, 0);
    assert.deepEqual(json(errors), {
      errors: [],
      total: 0,
      groups: [],
      group_count: 0,
      stopped: { attempts: 0, tasks: 0 },
    });

    // Listed among the user's DONE workflows, not among the FAILED ones.
    const mine = cli(["workflows", "--user", userInfo().username, "--status", "done", "--json"]);
    assert.equal(mine.code, 0, mine.stderr);
    const listed = (json(mine).workflows as { id: number; total: number; counts: object }[]).find(
      (w) => w.id === out.id,
    );
    assert.ok(listed, "the workflow is listed");
    assert.equal(listed.total, 4);
    assert.deepEqual(listed.counts, out.counts);
    const failed = json(cli(["workflows", "--status", "FAILED", "--json"]));
    assert.ok(!(failed.workflows as { id: number }[]).some((w) => w.id === out.id));
    const table = cli(["workflows", "--name", "CLI TEST"]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^\\s+${out.id}\\s+cli test\\s+DONE\\s+4/4`, "m"));
  });

  test("an invalid spec file: exit 2, the problem named, JSON error, nothing submitted", () => {
    const bad = join(home, "bad.yaml");
    writeFileSync(
      bad,
      `tool: { name: cli_test }
workflow: { name: bad }
templates:
  - { name: prep, command: "echo {loc}", node_args: [loc] }
tasks:
  - { template: prep, args: { loc: 1, year: 2 } }
  - { template: nope, args: {} }
`,
    );
    const r = drover(["submit", bad, "--json"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /year/);
    assert.match(r.stderr, /nope/);
    assert.match(String(json(r).error), /year/);
    assert.equal(json(r).reason, "invalid");
  });

  test("submit --wait of a workflow that fails: exit 1, FAILED, the error listed; then resubmitted", () => {
    const failing = join(home, "failing.yaml");
    const input = join(home, "input-2");
    const failingSpec = (extraTask = "") => `tool: { name: cli_test }
workflow: { name: cli failing, args: { round: 1 }, default_cluster: local, default_max_attempts: 2 }
templates:
  - { name: step, command: "if [ {n} = 2 ] && [ ! -e ${input} ]; then echo no input for {n} >&2; exit 5; fi", node_args: [n] }
  - { name: after, command: "echo after {n}", node_args: [n] }
tasks:
  - { template: step, foreach: { n: [1, 2] } }
  - { template: after, foreach: { n: [1, 2] }, upstream: [{ template: step, match: [n] }] }
${extraTask}`;
    writeFileSync(failing, failingSpec());
    const r = cli(["submit", failing, "--wait", "--json"]);
    assert.equal(r.code, 1, r.stderr);
    const out = json(r);
    assert.equal(out.status, "FAILED");
    // The failing branch: its task fatal, its downstream never run; the other branch DONE.
    const c = out.counts as Record<string, number>;
    assert.deepEqual([c.DONE, c.ERROR_FATAL, c.REGISTERING], [2, 1, 1]);

    const errors = cli(["errors", String(out.id), "--json"]);
    assert.equal(errors.code, 0, errors.stderr);
    const list = (json(errors) as { errors: Record<string, unknown>[] }).errors;
    assert.equal(list.length, 2, "one error per attempt");
    for (const e of list) {
      assert.deepEqual(Object.keys(e), [
        "task",
        "task_name",
        "instance",
        "exit_code",
        "message",
        "time",
      ]);
      assert.equal(e.exit_code, 5);
      assert.match(String(e.message), /no input for 2/);
    }

    // The same identity again: FAILED needs --resume.
    const again = cli(["submit", failing, "--json"]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /FAILED.*--resume/);
    // With the input there, a resume finishes it; the branch that was DONE is kept.
    writeFileSync(input, "");
    const doneTasks = doneTaskIds(String(out.id));
    const resumed = cli(["submit", failing, "--resume", "--wait", "--json"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(json(resumed).id, out.id, "the same workflow");
    assert.equal(json(resumed).status, "DONE");
    for (const id of doneTasks) {
      const t = json(cli(["task", String(id), "--json"]));
      assert.equal((t.instances as unknown[]).length, 1, `task ${id} ran again`);
    }
    // DONE: submitting again is a no-op; a different DAG under this identity is refused.
    const noop = cli(["submit", failing, "--json"]);
    assert.equal(noop.code, 0, noop.stderr);
    assert.deepEqual(json(noop), { id: out.id, status: "DONE" });
    writeFileSync(failing, failingSpec("  - { template: after, args: { n: 3 } }\n"));
    const changed = cli(["submit", failing, "--json"]);
    assert.equal(changed.code, 2, changed.stderr);
    assert.match(changed.stderr, /different DAG/);
  });

  test("bad usage and unknown ids exit 2 with a message naming the problem", () => {
    const cases: [string[], RegExp][] = [
      [["status", "abc"], /WF must be a positive whole number/],
      [["status"], /missing WF/],
      [["status", "999999", "--json"], /workflow 999999 does not exist/],
      [["task", "999999"], /task 999999 does not exist/],
      [["tasks", "1", "--status", "SLEEPING"], /unknown task status/],
      [["workflows", "--status", "SLEEPING"], /unknown workflow status/],
      [["workflows", "--limit", "0"], /--limit must be a whole number/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["submit", join(home, "missing.yaml")], /missing\.yaml: no such file/],
      [["submit", spec, "--bogus"], /--bogus/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
    }
  });

  test("a NATS URL left in the environment that hides the running stack is pointed out", () => {
    const up = drover(["up"]);
    assert.equal(up.code, 0, up.stderr);
    // Already up: nothing new to say about its NATS.
    assert.doesNotMatch(up.stderr, /unset DROVER_NATS_URL/);
    const r = drover(["workflows"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /DROVER_NATS_URL \(nats:\/\/127\.0\.0\.1:1\) is not the NATS of the stack running from .*\(nats:\/\/127\.0\.0\.1:\d+\); unset DROVER_NATS_URL/,
    );
    assert.doesNotMatch(cli(["workflows"]).stderr, /unset DROVER_NATS_URL/);
  });

  test("concurrency, stop, resume and set-status change a running workflow", async () => {
    // Six sleepers, paused from the start (limit 0); a downstream report. Naps 1 and 2
    // take 2 s, the rest 10 s: a nap is still running when the test stops the workflow,
    // however slowly the CLI calls in between answer on a loaded machine.
    const marker = `drover-cli-${process.pid}`;
    const running = join(home, "running.yaml");
    writeFileSync(
      running,
      `tool: { name: cli_test }
workflow: { name: cli commands, default_cluster: local, max_concurrently_running: 0 }
templates:
  - { name: nap, command: "sleep $(( {i} <= 2 ? 2 : 10 )) # ${marker} {i}", node_args: [i] }
  - { name: sum, command: "echo sum" }
tasks:
  - { template: nap, foreach: { i: [1, 2, 3, 4, 5, 6] } }
  - { template: sum, upstream: [{ template: nap }] }
`,
    );
    const submitted = cli(["submit", running, "--json"]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const wf = String(json(submitted).id);
    const counts = () => {
      const r = cli(["status", wf, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const out = json(r);
      const c = out.counts as Record<string, number>;
      const active = c.QUEUED! + c.INSTANTIATING! + c.LAUNCHED! + c.RUNNING!;
      return { status: String(out.status), done: c.DONE!, active, counts: c };
    };
    const until = async (what: string, cond: () => boolean, ms = 60_000) => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`not in time: ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    // Paused: nothing becomes active.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(counts().active, 0);
    assert.equal(counts().done, 0);

    // Limit 2: work starts and never exceeds two at once.
    const limit = cli(["concurrency", wf, "2", "--json"]);
    assert.equal(limit.code, 0, limit.stderr);
    assert.deepEqual(json(limit), { workflow_id: Number(wf), template: null, limit: 2 });
    let peak = 0;
    await until("two naps done", () => {
      const c = counts();
      peak = Math.max(peak, c.active);
      return c.done >= 2;
    });
    assert.ok(peak <= 2, `${peak} tasks active with a limit of 2`);
    const perTemplate = cli(["concurrency", wf, "1", "--template", "nap", "--json"]);
    assert.equal(perTemplate.code, 0, perTemplate.stderr);
    assert.deepEqual(json(perTemplate), { workflow_id: Number(wf), template: "nap", limit: 1 });
    const unknownTemplate = cli(["concurrency", wf, "1", "--template", "nope"]);
    assert.equal(unknownTemplate.code, 2);
    assert.match(unknownTemplate.stderr, /nope/);

    // Stop while a nap runs: HALTED at once (the change is committed when the command
    // returns), its process killed.
    await until("a nap running", () => processesWith(marker) > 0);
    const stop = cli(["stop", wf, "--json"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(json(stop).status, "HALTED");
    assert.ok((json(stop).killed as number) >= 1, "the running nap was killed");
    assert.equal(counts().status, "HALTED");
    await until("no process left", () => processesWith(marker) === 0, 15_000);
    const doneBefore = doneTaskIds(wf);

    // Resume with a raised limit: DONE, and the tasks DONE before were not run again.
    assert.equal(cli(["concurrency", wf, "none", "--template", "nap"]).code, 0);
    assert.equal(cli(["concurrency", wf, "6"]).code, 0);
    const resumed = cli(["resume", wf, "--wait", "--json"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(json(resumed).status, "DONE");
    for (const id of doneBefore) {
      const t = json(cli(["task", String(id), "--json"]));
      assert.equal((t.instances as unknown[]).length, 1, `task ${id} ran again`);
    }

    // set-status registering --recursive on a nap resets it and the report below it;
    // done --recursive on the report marks everything DONE again.
    const tasks = json(cli(["tasks", wf, "--json"])).tasks as { id: number; name: string }[];
    const nap = tasks.find((t) => t.name.startsWith("nap"))!;
    const sum = tasks.find((t) => t.name === "sum")!;
    const reset = cli(["set-status", String(nap.id), "registering", "--recursive", "--json"]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.deepEqual(json(reset), { task_ids: [nap.id, sum.id], status: "REGISTERING" });
    assert.equal(counts().counts.REGISTERING, 2);
    const done = cli(["set-status", String(sum.id), "done", "--recursive", "--json"]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(json(done).status, "DONE");
    assert.ok((json(done).task_ids as number[]).includes(nap.id));
    assert.equal(counts().done, 7);

    const badStatus = cli(["set-status", String(nap.id), "sleeping"]);
    assert.equal(badStatus.code, 2);
    assert.match(badStatus.stderr, /STATUS must be 'done' or 'registering'/);
    const badLimit = cli(["concurrency", wf, "-1"]);
    assert.equal(badLimit.code, 2);
    const unknownWf = cli(["stop", "999999", "--json"]);
    assert.equal(unknownWf.code, 2);
    assert.match(String(json(unknownWf).error), /999999/);
  });

  test("every command has --help with an example", () => {
    for (const c of [
      "submit",
      "status",
      "tasks",
      "task",
      "logs",
      "errors",
      "resume",
      "stop",
      "concurrency",
      "set-status",
      "workflows",
      "up",
      "down",
      "migrate",
      "bridge",
      "supervisor",
    ]) {
      const r = drover([c, "--help"]);
      assert.equal(r.code, 0, c);
      assert.match(r.stdout, /Example/, c);
    }
  });
});
