// The commands against a running stack: stop kills and HALTs, resume finishes the rest
// without rerunning DONE tasks, limits change while running, set-status both ways.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CommandRefused, Commands } from "../../client/commands.ts";
import { followWorkflow } from "../../client/follow.ts";
import type { Submission } from "../../submission/submission.ts";
import { processesWith } from "../../test/helpers/processes.ts";
import { startTestStack, type TestStack } from "../../test/helpers/stack.ts";

let stack: TestStack;
let commands: Commands;

before(async () => {
  stack = await startTestStack({ slots: 4 });
  commands = new Commands(stack.nc);
});
after(async () => {
  await stack.stop();
});

async function until(cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** n independent tasks sleeping `sleep` seconds, each with a unique marker in its command. */
function sleepers(
  name: string,
  n: number,
  sleep: number,
  cluster = "local",
  marker = name,
): Submission {
  return {
    tool: { name: "cmd_test", version: "1" },
    workflow: { name, default_cluster: cluster, default_max_attempts: 3, fail_fast: false },
    templates: [
      {
        name: "nap",
        command: `sleep ${sleep} # ${marker}-{i}`,
        node_args: ["i"],
        task_args: [],
        op_args: [],
      },
    ],
    tasks: Array.from({ length: n }, (_, i) => ({
      template: "nap",
      name: `nap_${i}`,
      args: { i: String(i) },
      upstream: [],
    })),
  };
}

async function counts(workflowId: number) {
  const rows = await stack.sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from task where workflow_id = ${workflowId} group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe("commands", { timeout: 120_000 }, () => {
  test("stop kills the running processes and HALTs; resume runs the rest without rerunning DONE tasks", async () => {
    const sub = sleepers("stoppable", 9, 30, "local", "drover-stop-test");
    sub.templates[0]!.command = "sleep {secs} # drover-stop-test {i}";
    sub.templates[0]!.task_args = ["secs"];
    for (const t of sub.tasks) t.args.secs = t.name === "nap_0" ? "0.01" : "30";
    const bound = await stack.submit(sub);
    await until(
      async () =>
        processesWith("drover-stop-test") >= 4 && (await counts(bound.workflow_id)).DONE === 1,
    );

    const answer = await commands.stop({ workflow_id: bound.workflow_id });
    assert.equal(answer.status, "HALTED");
    assert.ok(answer.killed >= 4, `killed ${answer.killed}`);
    // Returned after commit: the status is visible at once.
    const [wf] = await stack.sql`select status from workflow where id = ${bound.workflow_id}`;
    assert.equal(wf!.status, "HALTED");
    await until(async () => processesWith("drover-stop-test") === 0, 15_000);
    const halted = await counts(bound.workflow_id);
    assert.equal(halted.DONE, 1);
    assert.equal(halted.RUNNING ?? 0, 0);
    // stopping again is a no-op; stopping a missing workflow is refused
    assert.equal((await commands.stop({ workflow_id: bound.workflow_id })).killed, 0);
    await assert.rejects(commands.stop({ workflow_id: 999_999 }), CommandRefused);

    await stack.sql`update task set command = 'true' where workflow_id = ${bound.workflow_id} and status <> 'DONE'`;
    const quick =
      await stack.sql`select id from task where workflow_id = ${bound.workflow_id} and status = 'DONE'`;
    const resumed = await commands.resume({ workflow_id: bound.workflow_id });
    assert.equal(resumed.status, "QUEUED");
    const end = await followWorkflow(stack.nc, bound.workflow_id, { timeoutMs: 60_000 });
    assert.equal(end.status, "DONE");
    const [doneTask] =
      await stack.sql`select count(*)::int as n from task_instance where task_id = ${quick[0]!.id}`;
    assert.equal(doneTask!.n, 1, "the DONE task did not run again");
    await assert.rejects(commands.resume({ workflow_id: bound.workflow_id }), /DONE/);
  });

  test("stop while launches are in flight: nothing runs on, nothing stays live", async () => {
    // Stops right after submit, at moments where tasks are being queued, instantiated,
    // handed to the bridge or started: whatever was in flight ends killed or never runs.
    for (const delayMs of [0, 10, 30, 80, 200, 500]) {
      const marker = `drover-race-${delayMs}ms`;
      const bound = await stack.submit(sleepers(`race ${delayMs}`, 40, 30, "local", marker));
      await new Promise((r) => setTimeout(r, delayMs));
      const answer = await commands.stop({ workflow_id: bound.workflow_id });
      assert.equal(answer.status, "HALTED");
      await until(async () => processesWith(marker) === 0, 15_000);
      // A launch that lost the race is killed when its report arrives: give it the time.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(processesWith(marker), 0, `${delayMs} ms: no process left`);
      const [live] = await stack.sql<{ instances: number; tasks: number }[]>`
        select
          (select count(*)::int from task_instance where workflow_id = ${bound.workflow_id}
             and status = any(${["QUEUED", "INSTANTIATED", "LAUNCHED", "RUNNING"]}::text[])) as instances,
          (select count(*)::int from task where workflow_id = ${bound.workflow_id}
             and status = any(${["QUEUED", "INSTANTIATING", "LAUNCHED", "RUNNING"]}::text[])) as tasks`;
      assert.deepEqual({ ...live }, { instances: 0, tasks: 0 }, `${delayMs} ms: nothing live`);
      const [wf] = await stack.sql`select status from workflow where id = ${bound.workflow_id}`;
      assert.equal(wf!.status, "HALTED");
    }
  });

  test("limits: 200 tasks, workflow limit 5 and template limit 3 never exceeded; lowering takes effect, 0 pauses, raising resumes", async () => {
    const tasks: Submission["tasks"] = [];
    for (const template of ["a", "b"]) {
      for (let i = 0; i < 100; i++)
        tasks.push({ template, name: `${template}_${i}`, args: { i: String(i) }, upstream: [] });
    }
    const tpl = (name: string) => ({
      name,
      command: `@dummy:sleep=0.1 ${name} {i}`,
      node_args: ["i"],
      task_args: [],
      op_args: [],
    });
    const sub: Submission = {
      tool: { name: "cmd_test", version: "1" },
      workflow: {
        name: "limited",
        default_cluster: "dummy",
        default_max_attempts: 3,
        fail_fast: false,
        max_concurrently_running: 5,
      },
      templates: [{ ...tpl("a"), max_concurrently_running: 3 }, tpl("b")],
      tasks,
    };
    const bound = await stack.submit(sub);
    const id = bound.workflow_id;
    await until(async () => ((await counts(id)).DONE ?? 0) >= 40);
    const lowered = new Date();
    await commands.concurrency({ workflow_id: id, limit: 2 });
    await until(async () => ((await counts(id)).DONE ?? 0) >= 80);
    await commands.concurrency({ workflow_id: id, limit: 0 });
    // What was active finishes; nothing new starts.
    await until(async () => {
      const c = await counts(id);
      return (c.QUEUED ?? 0) + (c.INSTANTIATING ?? 0) + (c.LAUNCHED ?? 0) + (c.RUNNING ?? 0) === 0;
    });
    const paused = (await counts(id)).DONE ?? 0;
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await counts(id)).DONE ?? 0, paused, "paused: nothing ran");
    assert.ok(paused < 200);
    const lifted = new Date();
    await commands.concurrency({ workflow_id: id, limit: null });
    const end = await followWorkflow(stack.nc, id, { timeoutMs: 60_000 });
    assert.equal(end.status, "DONE");

    // The tasks' own timestamps: each task is active from QUEUED to DONE.
    const spans = await stack.sql<{ template: string; start: Date; stop: Date }[]>`
      select left(t.name, 1) as template,
             min(a.at) filter (where a.status = 'QUEUED') as start,
             max(a.at) filter (where a.status = 'DONE') as stop
      from task_status_audit a join task t on t.id = a.task_id
      where a.workflow_id = ${id} group by t.id, t.name`;
    assert.ok(
      spans.every((x) => x.start && x.stop),
      "every task has its QUEUED and DONE audit",
    );
    // Most tasks active at once, at the start of a task that started in [from, to).
    const peak = (list: readonly { start: Date; stop: Date }[], from: Date, to: Date) => {
      let max = 0;
      for (const x of list) {
        if (x.start < from || x.start >= to) continue;
        max = Math.max(max, list.filter((o) => o.start <= x.start && o.stop > x.start).length);
      }
      return max;
    };
    const a = spans.filter((x) => x.template === "a");
    const beginning = new Date(0);
    assert.ok(
      peak(spans, beginning, lifted) <= 5,
      `workflow peak ${peak(spans, beginning, lifted)}`,
    );
    assert.ok(peak(a, beginning, lifted) <= 3, `template a peak ${peak(a, beginning, lifted)}`);
    // Once the lower limit is in (what was active before drains first): two at a time.
    const settled = new Date(lowered.getTime() + 1000);
    assert.ok(
      peak(spans, settled, lifted) <= 2,
      `after lowering, peak ${peak(spans, settled, lifted)}`,
    );
    assert.ok(
      spans.some((x) => x.start > lifted),
      "raising it resumed the rest",
    );
    await assert.rejects(
      commands.concurrency({ workflow_id: id, limit: 1, template: "nope" }),
      /no template "nope"/,
    );
  });

  test("set-status: done --recursive marks upstream tasks done; registering --recursive resets downstream", async () => {
    const sub: Submission = {
      tool: { name: "cmd_test", version: "1" },
      workflow: {
        name: "chain",
        default_cluster: "dummy",
        default_max_attempts: 1,
        fail_fast: false,
      },
      templates: [
        { name: "step", command: "@dummy:fail {i}", node_args: ["i"], task_args: [], op_args: [] },
      ],
      tasks: [0, 1, 2, 3].map((i) => ({
        template: "step",
        name: `step_${i}`,
        args: { i: String(i) },
        upstream: i === 0 ? [] : [i - 1],
      })),
    };
    const bound = await stack.submit(sub);
    const end = await followWorkflow(stack.nc, bound.workflow_id, { timeoutMs: 30_000 });
    assert.equal(end.status, "FAILED");
    const ids = (
      await stack.sql<
        { id: number }[]
      >`select id from task where workflow_id = ${bound.workflow_id} order by id`
    ).map((r) => r.id);
    const marked = await commands.setStatus({ task_id: ids[2]!, status: "done", recursive: true });
    assert.deepEqual(marked.task_ids, [ids[0], ids[1], ids[2]]);
    const [last] = await stack.sql`select status, pending_upstream from task where id = ${ids[3]!}`;
    assert.deepEqual({ ...last }, { status: "REGISTERING", pending_upstream: 0 });

    const reset = await commands.setStatus({
      task_id: ids[1]!,
      status: "registering",
      recursive: true,
    });
    assert.deepEqual(reset.task_ids, [ids[1], ids[2]]);
    const rows = await stack.sql<{ status: string; pending_upstream: number }[]>`
      select status, pending_upstream from task where workflow_id = ${bound.workflow_id} order by id`;
    assert.deepEqual(
      rows.map((r) => [r.status, r.pending_upstream]),
      [
        ["DONE", 0],
        ["REGISTERING", 0],
        ["REGISTERING", 1],
        ["REGISTERING", 1],
      ],
    );
  });
});
