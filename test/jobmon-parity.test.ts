// Jobmon's behaviours that its own test suite checks, through the CLI as users run it (a
// subprocess) against a whole stack: resume with new op args and attributes, resources
// raised on resume, workflow status after set-status, reset, and task attributes added
// from inside a task. The reaper's re-send of stuck queued tasks is off (an hour), so a
// resume must reach DONE on its own messages: a dropped task.queued would never run.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { collectOutput } from "./helpers/output.ts";
import { startTestStack, type TestStack } from "./helpers/stack.ts";

const REPO = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "drover-parity-"));
let stack: TestStack;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a subprocess; asynchronous, as the stack runs in this process. */
async function drover(args: string[], timeoutMs = 60_000, input?: string): Promise<Run> {
  const child = spawn(process.execPath, [join(REPO, "bin/drover.mjs"), ...args], {
    env: {
      ...process.env,
      DROVER_NATS_URL: stack.nats.url,
      DROVER_DATABASE_URL: stack.db.url,
      DROVER_HOME: dir,
      DROVER_LOG_LEVEL: "warn",
    },
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  }) as ChildProcessWithoutNullStreams;
  if (input !== undefined) child.stdin?.end(input);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { status, ...output } = await collectOutput(child).finally(() => clearTimeout(timer));
  return { code: status, ...output };
}

function json<T = Record<string, unknown>>(r: { stdout: string; stderr: string }): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON: ${r.stdout}\n${r.stderr}`);
  }
}

/** Writes a spec file and returns its path. */
function spec(name: string, text: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, text);
  return path;
}

const FINAL = new Set(["DONE", "FAILED", "HALTED", "ABORTED"]);

/** Polls `drover status` until the workflow ends; its final status JSON. */
async function ended(
  wf: number,
  ms = 30_000,
): Promise<{ status: string; counts: Record<string, number> }> {
  const giveUp = Date.now() + ms;
  for (;;) {
    const r = await drover(["status", String(wf), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = json<{ status: string; counts: Record<string, number> }>(r);
    if (FINAL.has(out.status)) return out;
    if (Date.now() > giveUp) throw new Error(`workflow ${wf} still ${out.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface TaskJson {
  id: number;
  name: string;
  status: string;
  command: string;
  instances: { id: number; status: string; memory_requested: number | null }[];
}

async function tasksOf(wf: number): Promise<{ id: number; name: string; status: string }[]> {
  const r = await drover(["tasks", String(wf), "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return json<{ tasks: { id: number; name: string; status: string }[] }>(r).tasks;
}

async function task(id: number): Promise<TaskJson> {
  const r = await drover(["task", String(id), "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return json<TaskJson>(r);
}

function submitted(r: Run): number {
  assert.equal(r.code, 0, r.stderr);
  return json<{ id: number }>(r).id;
}

before(async () => {
  stack = await startTestStack({ slots: 2, timing: { sweepSeconds: 1, stuckSeconds: 3600 } });
});
after(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("Jobmon parity, through the CLI", { timeout: 300_000 }, () => {
  test("a resume runs the new op args, takes new workflow attributes, and lists the changed commands", async () => {
    const text = (mode: string, attributes: string) => `tool: { name: parity_opargs }
workflow:
  name: op args
  args: { round: 1 }
  default_cluster: dummy
  default_max_attempts: 1
  attributes: ${attributes}
templates:
  - { name: model, command: "model --loc {loc} --mode {mode}", node_args: [loc], op_args: [mode] }
  - { name: summary, command: "summary" }
tasks:
  - { template: model, foreach: { loc: [1, 2] }, args: { mode: "${mode}" } }
  - { template: summary, upstream: [{ template: model }] }
`;
    const path = spec("opargs", text("@dummy:fail", "{ team: burden, stage: first }"));
    const first = await drover(["submit", path, "--wait", "--json"]);
    assert.equal(first.code, 1, `${first.stderr} ${first.stdout}`);
    const wf = json<{ id: number; status: string }>(first).id;
    assert.equal(json<{ status: string }>(first).status, "FAILED");
    const models = (await tasksOf(wf)).filter((t) => t.name.startsWith("model"));

    writeFileSync(path, text("ok", "{ stage: second, reviewer: kim }"));
    const resumed = await drover(["submit", path, "--resume", "--json"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const answer = json<{ id: number; changed_commands: number[] }>(resumed);
    assert.equal(answer.id, wf);
    assert.deepEqual(
      answer.changed_commands,
      models.map((t) => t.id).sort((a, b) => a - b),
    );
    assert.equal((await ended(wf)).status, "DONE");
    for (const m of models) {
      const detail = await task(m.id);
      assert.match(detail.command, /--mode ok$/);
      assert.equal(detail.instances.at(-1)?.status, "DONE");
    }
    const [row] = await stack.sql<{ attributes: Record<string, string> }[]>`
      select attributes from workflow where id = ${wf}`;
    assert.deepEqual(row!.attributes, { team: "burden", stage: "second", reviewer: "kim" });
  });

  test("a resume given right after a failure queues at once (no message id of the first run repeats)", async () => {
    const text = (mode: string) => `tool: { name: parity_quick }
workflow: { name: quick, args: { round: 1 }, default_cluster: dummy, default_max_attempts: 1 }
templates: [{ name: t, command: "t {i} {mode}", node_args: [i], op_args: [mode] }]
tasks: [{ template: t, foreach: { i: [1, 2, 3, 4, 5, 6] }, args: { mode: "${mode}" } }]
`;
    const path = spec("quick", text("@dummy:fail"));
    const first = await drover(["submit", path, "--wait", "--json"]);
    assert.equal(first.code, 1, first.stderr);
    const wf = json<{ id: number }>(first).id;
    writeFileSync(path, text("ok"));
    // Twice, by both ways of resuming: the second one's messages must not repeat the
    // first one's either.
    for (const via of ["submit", "resume"] as const) {
      if (via === "resume") {
        const reset = await drover([
          "set-status",
          String((await tasksOf(wf))[0]!.id),
          "registering",
        ]);
        assert.equal(reset.code, 0, reset.stderr);
      }
      const started = Date.now();
      const r =
        via === "resume"
          ? await drover(["resume", String(wf), "--wait", "--json"], 30_000)
          : await drover(["submit", path, "--resume", "--wait", "--json"], 30_000);
      assert.equal(r.code, 0, `${via}: ${r.stderr}`);
      assert.equal(json<{ status: string }>(r).status, "DONE");
      // The stall was a minute: the reaper's sweep. It is off here, so this is generous.
      assert.ok(Date.now() - started < 20_000, `${via} took ${Date.now() - started} ms`);
    }
  });

  test("set-status done on the last failed task makes a FAILED workflow DONE, and a HALTED one", async () => {
    const path = spec(
      "setstatus",
      `tool: { name: parity_setstatus }
workflow: { name: set status, default_cluster: dummy, default_max_attempts: 1 }
templates:
  - { name: a, command: "a" }
  - { name: b, command: "b @dummy:fail" }
tasks:
  - { template: a }
  - { template: b, upstream: [a] }
`,
    );
    const r = await drover(["submit", path, "--wait", "--json"]);
    assert.equal(r.code, 1);
    const wf = json<{ id: number }>(r).id;
    const b = (await tasksOf(wf)).find((t) => t.name === "b")!;
    const set = await drover(["set-status", String(b.id), "done", "--json"]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(json(set), { task_ids: [b.id], status: "DONE" });
    assert.equal(
      json<{ status: string }>(await drover(["status", String(wf), "--json"])).status,
      "DONE",
    );

    const sleepy = spec(
      "halted",
      `tool: { name: parity_halted }
workflow: { name: halted, default_cluster: dummy, default_max_attempts: 1 }
templates: [{ name: s, command: "s @dummy:sleep=60" }]
tasks: [{ template: s }]
`,
    );
    const halted = submitted(await drover(["submit", sleepy, "--json"]));
    await waitForTaskStatus(halted, "RUNNING");
    assert.equal((await drover(["stop", String(halted)])).code, 0);
    const only = (await tasksOf(halted))[0]!;
    const done = await drover(["set-status", String(only.id), "done"]);
    assert.match(done.stdout, new RegExp(`workflow ${halted} is DONE`));
    assert.equal(
      json<{ status: string }>(await drover(["status", String(halted), "--json"])).status,
      "DONE",
    );

    // Not all DONE: a FAILED workflow stays FAILED (resumable).
    const two = spec(
      "partial",
      `tool: { name: parity_partial }
workflow: { name: partial, default_cluster: dummy, default_max_attempts: 1 }
templates: [{ name: f, command: "f {i} @dummy:fail", node_args: [i] }]
tasks: [{ template: f, foreach: { i: [1, 2] } }]
`,
    );
    const failed = await drover(["submit", two, "--wait", "--json"]);
    const wf2 = json<{ id: number }>(failed).id;
    const first = (await tasksOf(wf2))[0]!;
    assert.equal((await drover(["set-status", String(first.id), "done"])).code, 0);
    assert.equal(
      json<{ status: string }>(await drover(["status", String(wf2), "--json"])).status,
      "FAILED",
    );
  });

  test("resume raises memory for a task its last attempt ran out of, unless --keep-resources", async () => {
    const text = (round: number) => `tool: { name: parity_raise }
workflow: { name: raise, args: { round: ${round} }, default_cluster: dummy }
templates:
  - name: big
    command: "big @dummy:oom"
    resources: { memory: 1G }
    resource_scales: { memory: 0.5 }
tasks: [{ template: big, max_attempts: 2 }]
`;
    const GiB = 1024 ** 3;
    for (const keep of [false, true]) {
      const path = spec(`raise-${keep}`, text(keep ? 2 : 1));
      const r = await drover(["submit", path, "--wait", "--json"]);
      assert.equal(r.code, 1, r.stderr);
      const wf = json<{ id: number }>(r).id;
      const id = (await tasksOf(wf))[0]!.id;
      assert.deepEqual(
        (await task(id)).instances.map((i) => i.memory_requested),
        [GiB, 1.5 * GiB],
      );
      const args = [
        "resume",
        String(wf),
        "--wait",
        "--json",
        ...(keep ? ["--keep-resources"] : []),
      ];
      assert.equal((await drover(args)).code, 1);
      const third = (await task(id)).instances[2]!;
      // The retry after the second OOM that attempts ran out before: 1.5 GiB × 1.5.
      assert.equal(third.memory_requested, keep ? 1.5 * GiB : 2.25 * GiB);
    }
  });

  test("reset puts tasks back to REGISTERING (all, or with --partial those not DONE); resume reruns them", async () => {
    const path = spec(
      "reset",
      `tool: { name: parity_reset }
workflow: { name: reset, default_cluster: dummy, default_max_attempts: 1 }
templates: [{ name: c, command: "c {i}", node_args: [i] }]
tasks:
  - { template: c, args: { i: 1 } }
  - { template: c, args: { i: 2 }, upstream: [c_i-1] }
  - { template: c, args: { i: 3 }, upstream: [c_i-2] }
`,
    );
    const done = await drover(["submit", path, "--wait", "--json"]);
    assert.equal(done.code, 0, done.stderr);
    const wf = json<{ id: number }>(done).id;
    const reset = await drover(["reset", String(wf), "--json"]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.deepEqual(json(reset), { workflow_id: wf, status: "HALTED", reset: 3 });
    const status = json<{ counts: Record<string, number> }>(
      await drover(["status", String(wf), "--json"]),
    );
    assert.equal(status.counts.REGISTERING, 3);
    const again = await drover(["resume", String(wf), "--wait", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    for (const t of await tasksOf(wf)) assert.equal((await task(t.id)).instances.length, 2);

    const mixed = spec(
      "reset-partial",
      `tool: { name: parity_reset_partial }
workflow: { name: reset partial, default_cluster: dummy, default_max_attempts: 1 }
templates: [{ name: c, command: "c {i} {fail}", node_args: [i], op_args: [fail] }]
tasks:
  - { template: c, args: { i: 1, fail: "" } }
  - { template: c, args: { i: 2, fail: "@dummy:fail" } }
`,
    );
    const failed = await drover(["submit", mixed, "--wait", "--json"]);
    assert.equal(failed.code, 1);
    const wf2 = json<{ id: number }>(failed).id;
    const partial = await drover(["reset", String(wf2), "--partial", "--json"]);
    assert.deepEqual(json(partial), { workflow_id: wf2, status: "HALTED", reset: 1 });
    const statuses = (await tasksOf(wf2)).map((t) => t.status).sort();
    assert.deepEqual(statuses, ["DONE", "REGISTERING"]);

    const sleepy = spec(
      "reset-running",
      `tool: { name: parity_reset_running }
workflow: { name: reset running, default_cluster: dummy }
templates: [{ name: s, command: "s @dummy:sleep=60" }]
tasks: [{ template: s }]
`,
    );
    const running = submitted(await drover(["submit", sleepy, "--json"]));
    await waitForTaskStatus(running, "RUNNING");
    const refused = await drover(["reset", String(running)]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /is (QUEUED|RUNNING): stop it first/);
    await drover(["stop", String(running)]);
  });

  test("a running task adds attributes to itself with drover task-attributes add", async () => {
    // The bridge of this test runs with the environment of the test process, whose NATS is
    // not this stack's: the command names it (a bridge's tasks inherit the bridge's).
    const cli = `DROVER_NATS_URL=${stack.nats.url} ${process.execPath} ${join(REPO, "bin/drover.mjs")}`;
    const path = spec(
      "attributes",
      `tool: { name: parity_attributes }
workflow: { name: attributes, default_cluster: local, default_max_attempts: 1 }
templates:
  - name: fit
    command: "${cli} task-attributes add rmse=0.25 'note=fit ok' --json"
tasks: [{ template: fit, attributes: { stage: "1" } }]
`,
    );
    const r = await drover(["submit", path, "--wait", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const wf = json<{ id: number }>(r).id;
    const id = (await tasksOf(wf))[0]!.id;
    const [row] = await stack.sql<{ attributes: Record<string, string> }[]>`
      select attributes from task where id = ${id}`;
    assert.deepEqual(row!.attributes, { stage: "1", rmse: "0.25", note: "fit ok" });

    const outside = await drover([
      "task-attributes",
      "add",
      "rmse=0.2",
      "--task",
      String(id),
      "--json",
    ]);
    assert.equal(outside.code, 0, outside.stderr);
    assert.deepEqual(json(outside), {
      task_id: id,
      attributes: { stage: "1", rmse: "0.2", note: "fit ok" },
    });
    const noTask = await drover(["task-attributes", "add", "a=1"]);
    assert.equal(noTask.code, 2);
    assert.match(noTask.stderr, /DROVER_TASK_ID/);
    const badKey = await drover(["task-attributes", "add", "=1", "--task", String(id)]);
    assert.equal(badKey.code, 2);
    const unknown = await drover(["task-attributes", "add", "a=1", "--task", "999999999"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /task 999999999 does not exist/);
  });
});

describe("bind, then run: submit --hold, release, wait", { timeout: 120_000 }, () => {
  test("a held workflow runs nothing until released; wait follows it; a release twice is a no-op", async () => {
    const yaml = `tool: { name: parity_hold }
workflow: { name: held, args: { round: 1 }, default_cluster: dummy, default_max_attempts: 1 }
templates: [{ name: t, command: "t {i} {mode}", node_args: [i], op_args: [mode] }]
tasks: [{ template: t, foreach: { i: [1, 2, 3] }, args: { mode: "@dummy:fail" } }]
`;
    const held = await drover(["submit", "-", "--hold", "--json"], 60_000, yaml);
    assert.equal(held.code, 0, held.stderr);
    const { id: wf, status } = json<{ id: number; status: string }>(held);
    assert.equal(status, "REGISTERING");
    await new Promise((r) => setTimeout(r, 1500));
    const still = json<{ status: string; counts: Record<string, number> }>(
      await drover(["status", String(wf), "--json"]),
    );
    assert.equal(still.status, "REGISTERING");
    assert.equal(still.counts.REGISTERING, 3);

    const released = await drover(["release", String(wf), "--timeout", "600", "--json"]);
    assert.equal(released.code, 0, released.stderr);
    assert.deepEqual(json(released), {
      ok: true,
      workflow_id: wf,
      status: "QUEUED",
      released: true,
    });
    const waited = await drover(["wait", String(wf), "--json"]);
    assert.equal(waited.code, 1, waited.stderr);
    assert.equal(json<{ status: string }>(waited).status, "FAILED");
    const [row] = await stack.sql<{ timeout_seconds: number }[]>`
      select timeout_seconds from workflow where id = ${wf}`;
    assert.equal(row!.timeout_seconds, 600);

    // The same identity without --resume: refused, the workflow named in the JSON error.
    const again = await drover(["submit", "-", "--json"], 60_000, yaml);
    assert.equal(again.code, 2);
    assert.deepEqual(
      { ...json<Record<string, unknown>>(again), error: undefined },
      { error: undefined, reason: "conflict", workflow_id: wf },
    );
    // Resumed and held, with the command fixed; released, it ends DONE.
    const fixed = yaml.replace("@dummy:fail", "ok");
    const resumed = await drover(["submit", "-", "--resume", "--hold", "--json"], 60_000, fixed);
    assert.equal(json<{ status: string }>(resumed).status, "REGISTERING");
    const done = await drover(["release", String(wf), "--wait", "--json"]);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(json<{ status: string }>(done).status, "DONE");
    const twice = await drover(["release", String(wf), "--json"]);
    assert.equal(twice.code, 0, twice.stderr);
    assert.equal(json<{ released: boolean }>(twice).released, false);
    const bad = await drover(["submit", "-", "--hold", "--wait"], 60_000, yaml);
    assert.equal(bad.code, 2);
  });
});

async function waitForTaskStatus(wf: number, status: string, ms = 20_000): Promise<void> {
  const giveUp = Date.now() + ms;
  while (!(await tasksOf(wf)).some((t) => t.status === status)) {
    if (Date.now() > giveUp) throw new Error(`no task of workflow ${wf} became ${status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
