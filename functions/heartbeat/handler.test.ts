import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import { deliver, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { launchedMsg, runningMsg, scheduleAndLaunch } from "../../test/helpers/drive.ts";
import { insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { createHeartbeat, heartbeat } from "./handler.ts";

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

interface InstanceState {
  id: number;
  status: string;
  task_status: string;
  distributor_id: string | null;
  stdout_path: string | null;
  node: string | null;
  report_in: number;
}

async function instances(workflowId: number): Promise<InstanceState[]> {
  const rows = await sql<InstanceState[]>`
    select i.id, i.status, t.status as task_status, i.distributor_id, i.stdout_path, i.node,
      extract(epoch from i.report_by - now())::int as report_in
    from task_instance i join task t on t.id = i.task_id
    where i.workflow_id = ${workflowId} order by i.id`;
  return [...rows];
}

async function auditCount(workflowId: number): Promise<{ tasks: number; instances: number }> {
  const [row] = await sql<{ tasks: number; instances: number }[]>`
    select
      (select count(*)::int from task_status_audit where workflow_id = ${workflowId}) as tasks,
      (select count(*)::int from task_instance_status_audit a join task_instance i on i.id = a.task_instance_id
        where i.workflow_id = ${workflowId}) as instances`;
  return row!;
}

describe("heartbeat", () => {
  test("launched then running: instances and tasks move, with report-by dates and audits; redelivery changes nothing", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(3) });
    const [batch] = await scheduleAndLaunch(bus, f.workflowId);
    const ids = batch!.instances.map((i) => i.id);
    const wire = await bus.record();

    await deliver(heartbeat, "ti.launched", launchedMsg(batch!), bus.ctx);
    let rows = await instances(f.workflowId);
    assert.deepEqual(
      rows.map((r) => [r.status, r.task_status, r.distributor_id, r.stdout_path]),
      batch!.instances.map((i) => [
        "LAUNCHED",
        "LAUNCHED",
        `${batch!.batch_id}_${i.step}`,
        `/logs/${i.id}.out`,
      ]),
    );
    // 30 s × 3 missed + 30 s slack
    assert.ok(rows.every((r) => r.report_in > 110 && r.report_in <= 120));
    assert.deepEqual(await wire.emitted(), [
      {
        subject: `evt.tasks.${f.workflowId}`,
        data: { v: 1, workflow_id: f.workflowId, status: "LAUNCHED", task_ids: f.allIds },
      },
    ]);
    const afterLaunch = await auditCount(f.workflowId);
    await deliver(heartbeat, "ti.launched", launchedMsg(batch!), bus.ctx);
    assert.deepEqual(await auditCount(f.workflowId), afterLaunch);

    await deliver(heartbeat, "ti.running", runningMsg(ids), bus.ctx);
    rows = await instances(f.workflowId);
    assert.deepEqual(
      rows.map((r) => [r.status, r.task_status, r.node]),
      ids.map(() => ["RUNNING", "RUNNING", "node-1"]),
    );
    const afterRunning = await auditCount(f.workflowId);
    assert.deepEqual(afterRunning, {
      tasks: afterLaunch.tasks + 3,
      instances: afterLaunch.instances + 3,
    });
    await deliver(heartbeat, "ti.running", runningMsg(ids), bus.ctx);
    assert.deepEqual(await auditCount(f.workflowId), afterRunning);
  });

  test("running straight from INSTANTIATED; a late launch report fills in what it knows and moves nothing", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(2) });
    const [batch] = await scheduleAndLaunch(bus, f.workflowId);
    const ids = batch!.instances.map((i) => i.id);
    await deliver(
      heartbeat,
      "ti.running",
      { v: 1, instances: ids.map((id) => ({ id, node: "n2", distributor_id: `d${id}` })) },
      bus.ctx,
    );
    let rows = await instances(f.workflowId);
    assert.deepEqual(
      rows.map((r) => [r.status, r.task_status, r.node, r.distributor_id]),
      ids.map((id) => ["RUNNING", "RUNNING", "n2", `d${id}`]),
    );
    const audits = await auditCount(f.workflowId);
    await deliver(heartbeat, "ti.launched", launchedMsg(batch!), bus.ctx);
    rows = await instances(f.workflowId);
    assert.deepEqual(
      rows.map((r) => [r.status, r.distributor_id, r.stdout_path]),
      ids.map((id) => ["RUNNING", `d${id}`, `/logs/${id}.out`]),
    );
    assert.deepEqual(await auditCount(f.workflowId), audits);
  });

  test("a late running report for an instance that is already DONE moves nothing", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(1) });
    const [batch] = await scheduleAndLaunch(bus, f.workflowId);
    const id = batch!.instances[0]!.id;
    await sql`update task_instance set status = 'DONE' where id = ${id}`;
    await sql`update task set status = 'DONE' where id = ${f.allIds[0]!}`;
    const audits = await auditCount(f.workflowId);
    const wire = await bus.record();
    await deliver(heartbeat, "ti.running", runningMsg([id]), bus.ctx);
    await deliver(heartbeat, "ti.heartbeat", { v: 1, instance_ids: [id] }, bus.ctx);
    const [row] = await instances(f.workflowId);
    assert.equal(row!.status, "DONE");
    assert.equal(row!.task_status, "DONE");
    assert.equal(row!.node, "node-1", "what the late report knew is kept");
    assert.deepEqual(await auditCount(f.workflowId), audits);
    assert.deepEqual(await wire.emitted(), []);
  });

  test("heartbeats push report_by forward for live instances only", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.flat(2) });
    const [batch] = await scheduleAndLaunch(bus, f.workflowId);
    const [a, b] = batch!.instances.map((i) => i.id);
    await sql`update task_instance set report_by = now() - interval '1 minute' where workflow_id = ${f.workflowId}`;
    await sql`update task_instance set status = 'NO_HEARTBEAT' where id = ${b!}`;
    await deliver(
      createHeartbeat({ heartbeatSeconds: 10, missedHeartbeats: 2, slackSeconds: 5 }),
      "ti.heartbeat",
      {
        v: 1,
        instance_ids: [a!, b!, 987654321],
      },
      bus.ctx,
    );
    const rows = await instances(f.workflowId);
    assert.ok(rows[0]!.report_in > 20 && rows[0]!.report_in <= 25, String(rows[0]!.report_in));
    assert.ok(rows[1]!.report_in < 0);
  });
});
