// The execution path end to end on a private nats-server: schedule, launch, heartbeat and
// complete running as real consumers (startFunction), and a minimal bridge for the
// `dummy` cluster that answers each launch batch with ti.launched, ti.running, ti.done.
// (The real local bridge lives in local-bridge/.)
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import { clusterConsumer } from "../bus/consumer.ts";
import { Contracts } from "../bus/contracts.ts";
import type { WorkflowEvent } from "../bus/events.ts";
import { createPublisher } from "../bus/publish.ts";
import { type RunningFunction, startConsumer } from "../bus/runtime.ts";
import { localUserToken } from "../core/identity.ts";
import { silentLogger } from "../core/log.ts";
import { complete } from "../functions/complete/handler.ts";
import { type FunctionDefinition, startFunction } from "../functions/context.ts";
import { heartbeat } from "../functions/heartbeat/handler.ts";
import { launch } from "../functions/launch/handler.ts";
import { schedule } from "../functions/schedule/handler.ts";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { startNats, type TestNats } from "./helpers/nats.ts";
import { insertWorkflow, shapes } from "./helpers/workflow-fixture.ts";

let db: FreshDatabase;
let sql: Sql;
let nats: TestNats;
let nc: NatsConnection;
const running: RunningFunction[] = [];

/** Answers every batch on launch.dummy: launched, running, done, one message each. */
const testBridge = clusterConsumer(Contracts.launch, "dummy", localUserToken(), {
  handle: async (msg, ctx) => {
    const b = msg.data;
    const ids = b.instances.map((i) => i.id);
    await ctx.publish(Contracts.tiLaunched, {
      v: 1,
      cluster: b.cluster,
      instances: b.instances.map((i) => ({
        id: i.id,
        distributor_id: `${b.batch_id}_${i.step}`,
      })),
    });
    await ctx.publish(Contracts.tiRunning, {
      v: 1,
      instances: ids.map((id) => ({ id, node: "test-node" })),
    });
    await ctx.publish(Contracts.tiDone, {
      v: 1,
      results: ids.map((id) => ({ id, exit_code: 0, runtime_used: 0.01 })),
    });
  },
});

before(async () => {
  db = await freshDatabase();
  sql = db.sql;
  nats = await startNats();
  nc = await connectBus(nats.url, "lifecycle-test");
  const fns: FunctionDefinition<never>[] = [schedule, launch, heartbeat, complete];
  for (const fn of fns) running.push(await startFunction(fn, { nc, sql, log: silentLogger }));
  running.push(await startConsumer(testBridge, { nc, log: silentLogger }));
});
after(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await nc.drain();
  await nats.stop();
  await db.drop();
});

async function until(cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("lifecycle on the bus", () => {
  test("a diamond bound on the bus runs to DONE", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.diamond() });
    const events: WorkflowEvent[] = [];
    const sub = nc.subscribe(`evt.workflow.${f.workflowId}`, {
      callback: (_e, m) => {
        events.push(m.json<WorkflowEvent>());
      },
    });
    await createPublisher(nc, jetstream(nc)).publish(Contracts.bound, {
      v: 1,
      workflow_id: f.workflowId,
      run_id: f.runId,
    });
    await until(async () => {
      const [w] = await sql<
        { status: string }[]
      >`select status from workflow where id = ${f.workflowId}`;
      return w?.status === "DONE";
    });
    const tasks = await sql<{ status: string; attempts: number; pending_upstream: number }[]>`
      select status, attempts, pending_upstream from task where workflow_id = ${f.workflowId}`;
    assert.deepEqual(
      tasks.map((t) => [t.status, t.attempts, t.pending_upstream]),
      [
        ["DONE", 1, 0],
        ["DONE", 1, 0],
        ["DONE", 1, 0],
        ["DONE", 1, 0],
      ],
    );
    const [instances] = await sql<{ n: number; done: number }[]>`
      select count(*)::int as n, count(*) filter (where status = 'DONE')::int as done
      from task_instance where workflow_id = ${f.workflowId}`;
    assert.deepEqual(instances, { n: 4, done: 4 });
    // ti.running travels on another stream than ti.done and may come last: the node is
    // recorded all the same.
    await until(async () => {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from task_instance
        where workflow_id = ${f.workflowId} and node = 'test-node'`;
      return row?.n === 4;
    }, 5000);
    const [run] = await sql<
      { status: string }[]
    >`select status from workflow_run where id = ${f.runId}`;
    assert.equal(run!.status, "DONE");
    const [unpublished] = await sql<{ n: number }[]>`
      select count(*)::int as n from launch_batch where workflow_id = ${f.workflowId} and published_at is null`;
    assert.equal(unpublished!.n, 0);
    await until(async () => events.some((e) => e.status === "DONE"), 2000);
    assert.deepEqual(
      events.map((e) => e.status),
      ["RUNNING", "DONE"],
    );
    sub.unsubscribe();
  });

  test("a fan-out/fan-in with a workflow limit finishes too", async () => {
    const f = await insertWorkflow(sql, { tasks: shapes.fanOutIn(40), maxConcurrentlyRunning: 5 });
    await createPublisher(nc, jetstream(nc)).publish(Contracts.bound, {
      v: 1,
      workflow_id: f.workflowId,
      run_id: f.runId,
    });
    await until(async () => {
      const [w] = await sql<
        { status: string }[]
      >`select status from workflow where id = ${f.workflowId}`;
      return w?.status === "DONE";
    });
    const [row] = await sql<{ done: number; instances: number }[]>`
      select count(*) filter (where status = 'DONE')::int as done,
        (select count(*)::int from task_instance where workflow_id = ${f.workflowId}) as instances
      from task where workflow_id = ${f.workflowId}`;
    assert.deepEqual(row, { done: 42, instances: 42 });
  });
});
