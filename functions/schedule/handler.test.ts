import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import type { TaskQueued } from "../../bus/schemas.ts";
import { deliver, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { createSchedule, schedule, sweep } from "./handler.ts";
import { DEFAULT_SCHEDULE_OPTIONS } from "./schedule.ts";

let db: FreshDatabase;
let sql: Sql;
let bus: TestBus;

before(async () => {
  db = await freshDatabase();
  sql = db.sql;
  bus = await startTestBus(sql);
});
after(async () => {
  await bus.stop();
  await db.drop();
});

async function statuses(workflowId: number): Promise<Record<string, string>> {
  const rows = await sql<{ name: string; status: string }[]>`
    select name, status from task where workflow_id = ${workflowId} order by id`;
  return Object.fromEntries(rows.map((r) => [r.name, r.status]));
}

async function queuedNames(workflowId: number): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select name from task where workflow_id = ${workflowId} and status = 'QUEUED' order by id`;
  return rows.map((r) => r.name);
}

async function workflowStatus(workflowId: number): Promise<{ workflow: string; run: string }> {
  const [row] = await sql<{ workflow: string; run: string }[]>`
    select w.status as workflow, r.status as run
    from workflow w join workflow_run r on r.workflow_id = w.id
    where w.id = ${workflowId} order by r.id desc limit 1`;
  return row!;
}

describe("schedule", () => {
  test("queues ready tasks within the workflow limit, starts workflow and run, publishes and audits", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(10), maxConcurrentlyRunning: 3 });
    const wire = await bus.record();
    const bound = { v: 1, workflow_id: f.workflowId, run_id: f.runId };
    await deliver(schedule, "wf.bound", bound, bus.ctx);

    assert.deepEqual(await queuedNames(f.workflowId), ["t_0", "t_1", "t_2"]);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "RUNNING", run: "RUNNING" });
    const msgs = await wire.take<TaskQueued>("task.queued");
    assert.equal(msgs.length, 1);
    assert.deepEqual(msgs[0]!.data, {
      v: 1,
      workflow_id: f.workflowId,
      task_ids: f.ids("t_0", "t_1", "t_2"),
    });
    assert.match(
      msgs[0]!.msgID!,
      new RegExp(`^queued-${f.workflowId}-${f.taskIds["t_0"]}-3-[0-9a-f]{16}$`),
    );

    const [audit] = await sql<{ tasks: number; wf: number; run: number }[]>`
      select
        (select count(*)::int from task_status_audit where workflow_id = ${f.workflowId} and status = 'QUEUED') as tasks,
        (select count(*)::int from workflow_status_audit where workflow_id = ${f.workflowId} and status = 'RUNNING') as wf,
        (select count(*)::int from workflow_run_status_audit where workflow_run_id = ${f.runId} and status = 'RUNNING') as run`;
    assert.deepEqual(audit, { tasks: 3, wf: 1, run: 1 });

    const emitted = await wire.emitted();
    assert.deepEqual(
      emitted.map((e) => e.subject),
      [`evt.tasks.${f.workflowId}`, `evt.workflow.${f.workflowId}`],
    );
    assert.deepEqual(emitted[0]!.data, {
      v: 1,
      workflow_id: f.workflowId,
      status: "QUEUED",
      task_ids: f.ids("t_0", "t_1", "t_2"),
    });
    assert.deepEqual(emitted[1]!.data, { v: 1, workflow_id: f.workflowId, status: "RUNNING" });

    // Redelivery (and a wake): nothing more to queue, nothing published, no audit rows.
    const again = await bus.record();
    await deliver(schedule, "wf.bound", bound, bus.ctx, 2);
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
    assert.equal((await queuedNames(f.workflowId)).length, 3);
    assert.equal((await again.published()).length, 0);
    const [count] = await sql<{ n: number }[]>`
      select count(*)::int as n from task_status_audit where workflow_id = ${f.workflowId}`;
    assert.equal(count!.n, 3);
  });

  test("array limits apply per template; a limit of 0 pauses; raising it lets the sweep queue", async () => {
    const f = await insertWorkflow(sql, {
      tasks: [...shapes.flat(5, "a"), ...shapes.flat(5, "b"), ...shapes.flat(3, "c")],
      templateLimits: { a: 2, c: 0 },
    });
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
    assert.deepEqual(await queuedNames(f.workflowId), [
      "a_0",
      "a_1",
      "b_0",
      "b_1",
      "b_2",
      "b_3",
      "b_4",
    ]);

    await sql`update task_array set max_concurrently_running = 1 where id = ${f.arrayIds["c"]!}`;
    await sweep(bus.ctx, DEFAULT_SCHEDULE_OPTIONS);
    assert.equal((await statuses(f.workflowId))["c_0"], "QUEUED");
    assert.equal((await statuses(f.workflowId))["c_1"], "REGISTERING");
  });

  test("a workflow limit of 0 pauses the workflow", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(4), maxConcurrentlyRunning: 0 });
    const wire = await bus.record();
    const bound = { v: 1, workflow_id: f.workflowId, run_id: f.runId };
    await deliver(schedule, "wf.bound", bound, bus.ctx);
    assert.deepEqual(await queuedNames(f.workflowId), []);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "QUEUED", run: "BOUND" });
    assert.equal((await wire.published()).length, 0);
    // Unpaused: active tasks count against the new limit.
    await sql`update workflow set max_concurrently_running = 2 where id = ${f.workflowId}`;
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
    assert.equal((await queuedNames(f.workflowId)).length, 2);
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
    assert.equal((await queuedNames(f.workflowId)).length, 2);
  });

  test("concurrent schedule calls for one workflow never exceed its limits together", async () => {
    const f = await insertWorkflow(sql, {
      tasks: [...shapes.flat(30, "a"), ...shapes.flat(30, "b")],
      maxConcurrentlyRunning: 7,
      templateLimits: { a: 3 },
    });
    const wire = await bus.record();
    const wake = { v: 1, workflow_id: f.workflowId };
    await Promise.all(
      Array.from({ length: 6 }, () => deliver(schedule, "sched.wake", wake, bus.ctx)),
    );
    const names = await queuedNames(f.workflowId);
    assert.equal(names.length, 7);
    assert.equal(names.filter((n) => n.startsWith("a_")).length, 3);
    const published = (await wire.take<TaskQueued>("task.queued")).flatMap((m) => m.data.task_ids);
    assert.equal(published.length, 7);
    assert.equal(new Set(published).size, 7);
    const [audit] = await sql<{ n: number }[]>`
      select count(*)::int as n from workflow_status_audit where workflow_id = ${f.workflowId}`;
    assert.equal(audit!.n, 1, "one RUNNING transition");
  });

  test("rounds are capped and continue; task.queued messages are chunked", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(25) });
    const fn = createSchedule({ roundCap: 10, chunk: 4 });
    const wire = await bus.record();
    await deliver(fn, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
    assert.equal((await queuedNames(f.workflowId)).length, 25);
    const msgs = await wire.take<TaskQueued>("task.queued");
    assert.ok(msgs.every((m) => m.data.task_ids.length <= 4));
    assert.deepEqual(
      msgs.flatMap((m) => m.data.task_ids),
      f.allIds,
    );
    assert.equal(new Set(msgs.map((m) => m.msgID)).size, msgs.length);

    // maxRounds reached: the rest is left to a sched.wake to itself.
    const g = await insertWorkflow(sql, { tasks: shapes.flat(25) });
    const capped = createSchedule({ roundCap: 10, maxRounds: 2 });
    const w2 = await bus.record();
    await deliver(capped, "sched.wake", { v: 1, workflow_id: g.workflowId }, bus.ctx);
    assert.equal((await queuedNames(g.workflowId)).length, 20);
    assert.equal((await w2.take("sched.wake")).length, 1);
  });

  test("order: tasks adjusting resources first, then priority, then id", async () => {
    const f = await insertWorkflow(sql, {
      tasks: [
        { name: "p0" },
        { name: "p5", priority: 5 },
        { name: "p1", priority: 1 },
        { name: "adj" },
        { name: "p5b", priority: 5 },
      ],
      maxConcurrentlyRunning: 3,
    });
    await sql`update task set status = 'ADJUSTING_RESOURCES' where id = ${f.taskIds["adj"]!}`;
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
    assert.deepEqual(await queuedNames(f.workflowId), ["p5", "adj", "p5b"]);
  });

  test("only ready tasks; nothing for fail-fast workflows with a fatal task or workflows not live", async () => {
    const chain = await insertWorkflow(sql, { tasks: shapes.chain(3) });
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: chain.workflowId }, bus.ctx);
    assert.deepEqual(await queuedNames(chain.workflowId), ["step_0"]);

    const ff = await insertWorkflow(sql, { tasks: shapes.flat(3), failFast: true });
    await sql`update task set status = 'ERROR_FATAL' where id = ${ff.taskIds["t_0"]!}`;
    const wire = await bus.record();
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: ff.workflowId }, bus.ctx);
    assert.deepEqual(await queuedNames(ff.workflowId), []);

    const halted = await insertWorkflow(sql, { tasks: shapes.flat(3) });
    await sql`update workflow set status = 'HALTED' where id = ${halted.workflowId}`;
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: halted.workflowId }, bus.ctx);
    assert.deepEqual(await queuedNames(halted.workflowId), []);

    await deliver(schedule, "sched.wake", { v: 1, workflow_id: 999_999 }, bus.ctx);
    assert.equal((await wire.published()).length, 0);
  });

  test("a workflow without tasks is DONE once bound", async () => {
    const f = await insertWorkflow(sql, { tasks: [] });
    const wire = await bus.record();
    const bound = { v: 1, workflow_id: f.workflowId, run_id: f.runId };
    await deliver(schedule, "wf.bound", bound, bus.ctx);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "DONE", run: "DONE" });
    assert.deepEqual(await wire.emitted(), [
      {
        subject: `evt.workflow.${f.workflowId}`,
        data: { v: 1, workflow_id: f.workflowId, status: "DONE" },
      },
    ]);
  });

  test("the sweep timer schedules every live workflow with ready tasks", async () => {
    const a = await insertWorkflow(sql, { tasks: shapes.flat(2) });
    const b = await insertWorkflow(sql, { tasks: shapes.chain(2) });
    await sweep(bus.ctx, DEFAULT_SCHEDULE_OPTIONS);
    assert.equal((await queuedNames(a.workflowId)).length, 2);
    assert.deepEqual(await queuedNames(b.workflowId), ["step_0"]);
  });
});
