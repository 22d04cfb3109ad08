import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import type { LaunchBatch } from "../../bus/schemas.ts";
import { deliver, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { doneMsg, runToEnd, scheduleAndLaunch } from "../../test/helpers/drive.ts";
import { insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { complete } from "./handler.ts";

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

async function tasks(
  workflowId: number,
): Promise<Record<string, { status: string; pending: number }>> {
  const rows = await sql<{ name: string; status: string; pending: number }[]>`
    select name, status, pending_upstream as pending from task where workflow_id = ${workflowId} order by id`;
  return Object.fromEntries(rows.map((r) => [r.name, { status: r.status, pending: r.pending }]));
}

async function workflowStatus(workflowId: number): Promise<{ workflow: string; run: string }> {
  const [row] = await sql<{ workflow: string; run: string }[]>`
    select w.status as workflow, r.status as run
    from workflow w join workflow_run r on r.workflow_id = w.id
    where w.id = ${workflowId} order by r.id desc limit 1`;
  return row!;
}

/** Instance id by task name, from launch batches. */
function instanceOf(batches: LaunchBatch[]): Record<string, number> {
  return Object.fromEntries(batches.flatMap((b) => b.instances.map((i) => [i.name, i.id])));
}

describe("complete", () => {
  test("a diamond runs to DONE: statuses, pending counts, one instance per task, audits, events", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.diamond() });
    const wire = await bus.record();
    const rounds = await runToEnd(bus, f.workflowId);
    assert.equal(rounds, 3);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "DONE", run: "DONE" });
    const t = await tasks(f.workflowId);
    for (const name of ["top_0", "mid_0", "mid_1", "bottom_0"])
      assert.deepEqual(t[name], { status: "DONE", pending: 0 });

    const instances = await sql<
      { task_id: number; status: string; exit_code: number; node: string; attempts: number }[]
    >`
      select i.task_id, i.status, i.exit_code, i.node, t.attempts
      from task_instance i join task t on t.id = i.task_id
      where i.workflow_id = ${f.workflowId} order by i.task_id`;
    assert.deepEqual(
      instances.map((i) => [i.task_id, i.status, i.exit_code, i.node, i.attempts]),
      f.allIds.map((id) => [id, "DONE", 0, "node-1", 1]),
    );

    // Every transition audited once per task: QUEUED INSTANTIATING LAUNCHED RUNNING DONE.
    const audit = await sql<{ status: string; n: number }[]>`
      select status, count(*)::int as n from task_status_audit
      where workflow_id = ${f.workflowId} group by status order by status`;
    assert.deepEqual(
      audit.map((a) => [a.status, a.n]),
      [
        ["DONE", 4],
        ["INSTANTIATING", 4],
        ["LAUNCHED", 4],
        ["QUEUED", 4],
        ["RUNNING", 4],
      ],
    );
    const instanceAudit = await sql<{ status: string; n: number }[]>`
      select a.status, count(*)::int as n from task_instance_status_audit a
      join task_instance i on i.id = a.task_instance_id
      where i.workflow_id = ${f.workflowId} group by a.status order by a.status`;
    assert.deepEqual(
      instanceAudit.map((a) => [a.status, a.n]),
      [
        ["DONE", 4],
        ["INSTANTIATED", 4],
        ["LAUNCHED", 4],
        ["RUNNING", 4],
      ],
    );
    const wfAudit = await sql<{ status: string }[]>`
      select status from workflow_status_audit where workflow_id = ${f.workflowId} order by at, status`;
    assert.deepEqual(
      wfAudit.map((a) => a.status),
      ["RUNNING", "DONE"],
    );
    const runAudit = await sql<{ status: string }[]>`
      select status from workflow_run_status_audit where workflow_run_id = ${f.runId} order by at, status`;
    assert.deepEqual(
      runAudit.map((a) => a.status),
      ["RUNNING", "DONE"],
    );
    const emitted = await wire.emitted();
    const wfEvents = emitted
      .filter((e) => e.subject === `evt.workflow.${f.workflowId}`)
      .map((e) => e.data);
    assert.deepEqual(wfEvents, [
      { v: 1, workflow_id: f.workflowId, status: "RUNNING" },
      { v: 1, workflow_id: f.workflowId, status: "DONE" },
    ]);
    const doneEvents = emitted
      .filter(
        (e) =>
          e.subject === `evt.tasks.${f.workflowId}` &&
          (e.data as { status: string }).status === "DONE",
      )
      .flatMap((e) => (e.data as { task_ids: number[] }).task_ids);
    assert.deepEqual(
      doneEvents.sort((a, b) => a - b),
      f.allIds,
    );
  });

  test("a redelivered result decrements downstream once and publishes nothing", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.diamond() });
    let batches = await scheduleAndLaunch(bus, f.workflowId);
    await deliver(complete, "ti.done", doneMsg([instanceOf(batches)["top_0"]!]), bus.ctx);
    batches = await scheduleAndLaunch(bus, f.workflowId);
    const mid0 = instanceOf(batches)["mid_0"]!;

    const wire = await bus.record();
    await deliver(complete, "ti.done", doneMsg([mid0]), bus.ctx);
    // Nothing became ready and the workflow has no limits: no wake for schedule.
    assert.deepEqual(await wire.take("sched.wake"), []);
    assert.deepEqual((await tasks(f.workflowId))["bottom_0"], {
      status: "REGISTERING",
      pending: 1,
    });

    const again = await bus.record();
    await deliver(complete, "ti.done", doneMsg([mid0, mid0]), bus.ctx);
    assert.deepEqual((await tasks(f.workflowId))["bottom_0"], {
      status: "REGISTERING",
      pending: 1,
    });
    assert.equal((await again.published()).length, 0);
    assert.equal((await again.emitted()).length, 0);
    const [n] = await sql<{ n: number }[]>`
      select count(*)::int as n from task_status_audit where task_id = ${f.taskIds["mid_0"]!} and status = 'DONE'`;
    assert.equal(n!.n, 1);
  });

  test("results for a fan-in arriving concurrently release the join exactly once (no deadlock)", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.fanOutIn(24) });
    let batches = await scheduleAndLaunch(bus, f.workflowId);
    await deliver(complete, "ti.done", doneMsg([instanceOf(batches)["split_0"]!]), bus.ctx);
    batches = await scheduleAndLaunch(bus, f.workflowId);
    const work = Object.values(instanceOf(batches));
    assert.equal(work.length, 24);
    // Pairs of results per message, all at once, plus every message delivered twice.
    const messages = [];
    for (let i = 0; i < work.length; i += 2) messages.push(doneMsg(work.slice(i, i + 2)));
    await Promise.all(
      [...messages, ...messages].map((m) => deliver(complete, "ti.done", m, bus.ctx)),
    );
    const t = await tasks(f.workflowId);
    assert.deepEqual(t["join_0"], { status: "REGISTERING", pending: 0 });
    await runToEnd(bus, f.workflowId);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "DONE", run: "DONE" });
  });

  test("results of tasks sharing many downstream tasks, concurrently: counted exactly, no deadlock", async () => {
    const ups = Array.from({ length: 12 }, (_, i) => ({ name: `u_${i}`, template: "u" }));
    const downs = Array.from({ length: 40 }, (_, i) => ({
      name: `d_${i}`,
      template: "d",
      upstream: ups.map((u) => u.name),
    }));
    const f = await insertWorkflow(sql, { tasks: [...ups, ...downs] });
    const inst = Object.values(instanceOf(await scheduleAndLaunch(bus, f.workflowId)));
    assert.equal(inst.length, 12);
    await Promise.all(inst.map((id) => deliver(complete, "ti.done", doneMsg([id]), bus.ctx)));
    const t = await tasks(f.workflowId);
    for (const d of downs) assert.deepEqual(t[d.name], { status: "REGISTERING", pending: 0 });
  });

  test("the last tasks finishing at the same moment in different messages end the workflow", async () => {
    for (let round = 0; round < 5; round++) {
      const f = await insertWorkflow(sql, { tasks: shapes.flat(4) });
      const ids = Object.values(instanceOf(await scheduleAndLaunch(bus, f.workflowId)));
      await Promise.all(ids.map((id) => deliver(complete, "ti.done", doneMsg([id]), bus.ctx)));
      assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "DONE", run: "DONE" });
      const [audit] = await sql<{ n: number }[]>`
        select count(*)::int as n from workflow_status_audit where workflow_id = ${f.workflowId} and status = 'DONE'`;
      assert.equal(audit!.n, 1);
    }
  });

  test("a workflow whose remaining tasks can never run ends FAILED, its run ERROR", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.fanOutIn(2) });
    let batches = await scheduleAndLaunch(bus, f.workflowId);
    await deliver(complete, "ti.done", doneMsg([instanceOf(batches)["split_0"]!]), bus.ctx);
    batches = await scheduleAndLaunch(bus, f.workflowId);
    const inst = instanceOf(batches);
    // work_0 failed for good (as the retry function would leave it).
    await sql`update task_instance set status = 'ERROR' where id = ${inst["work_0"]!}`;
    await sql`update task set status = 'ERROR_FATAL' where id = ${f.taskIds["work_0"]!}`;
    const wire = await bus.record();
    await deliver(complete, "ti.done", doneMsg([inst["work_1"]!]), bus.ctx);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "FAILED", run: "ERROR" });
    assert.deepEqual((await tasks(f.workflowId))["join_0"], { status: "REGISTERING", pending: 1 });
    assert.equal((await wire.take("sched.wake")).length, 0, "no wake for a workflow that ended");
    assert.deepEqual(
      (await wire.emitted())
        .filter((e) => e.subject.startsWith("evt.workflow."))
        .map((e) => e.data),
      [{ v: 1, workflow_id: f.workflowId, status: "FAILED" }],
    );
  });

  test("fail-fast: a fatal task fails the workflow once nothing is active, ready tasks notwithstanding", async () => {
    const f = await insertWorkflow(sql, {
      tasks: shapes.flat(3),
      failFast: true,
      maxConcurrentlyRunning: 2,
    });
    const inst = instanceOf(await scheduleAndLaunch(bus, f.workflowId));
    await sql`update task_instance set status = 'ERROR' where id = ${inst["t_0"]!}`;
    await sql`update task set status = 'ERROR_FATAL' where id = ${f.taskIds["t_0"]!}`;
    await deliver(complete, "ti.done", doneMsg([inst["t_1"]!]), bus.ctx);
    assert.deepEqual(await workflowStatus(f.workflowId), { workflow: "FAILED", run: "ERROR" });
    assert.equal((await tasks(f.workflowId))["t_2"]!.status, "REGISTERING");

    // Without fail-fast the ready task keeps the workflow going.
    const g = await insertWorkflow(sql, { tasks: shapes.flat(3), maxConcurrentlyRunning: 2 });
    const ginst = instanceOf(await scheduleAndLaunch(bus, g.workflowId));
    await sql`update task_instance set status = 'ERROR' where id = ${ginst["t_0"]!}`;
    await sql`update task set status = 'ERROR_FATAL' where id = ${g.taskIds["t_0"]!}`;
    await deliver(complete, "ti.done", doneMsg([ginst["t_1"]!]), bus.ctx);
    assert.deepEqual(await workflowStatus(g.workflowId), { workflow: "RUNNING", run: "RUNNING" });
    await runToEnd(bus, g.workflowId);
    assert.deepEqual(await workflowStatus(g.workflowId), { workflow: "FAILED", run: "ERROR" });
  });

  test("results for unknown instances are ignored", async () => {
    const wire = await bus.record();
    await deliver(complete, "ti.done", doneMsg([123456789]), bus.ctx);
    assert.equal((await wire.published()).length + (await wire.emitted()).length, 0);
  });
});

test("a later report for a DONE instance fills in the usage the first one lacked, and changes nothing else", async () => {
  const f = await insertWorkflow(sql, { tasks: shapes.chain(1) });
  await runToEnd(bus, f.workflowId);
  const [inst] = await sql<
    { id: number }[]
  >`select id from task_instance where workflow_id = ${f.workflowId}`;
  await sql`update task_instance set memory_used = null where id = ${inst!.id}`;
  const late = {
    v: 1,
    results: [{ id: inst!.id, exit_code: 0, memory_used: 123_456_789, runtime_used: 9 }],
  };
  await deliver(complete, "ti.done", late, bus.ctx);
  const [row] =
    await sql`select status, memory_used, runtime_used from task_instance where id = ${inst!.id}`;
  assert.equal(row!.status, "DONE");
  assert.equal(row!.memory_used, 123_456_789);
  assert.notEqual(row!.runtime_used, 9, "known usage is kept");
});
