import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import type { LaunchBatch, TaskQueued, TiError } from "../../bus/schemas.ts";
import { silentLogger } from "../../core/log.ts";
import type { LaunchRow } from "../../store/launch.ts";
import { deliver, type Recording, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { type FixtureTask, insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { retry } from "../retry/handler.ts";
import { schedule } from "../schedule/handler.ts";
import { planBatches } from "./batching.ts";
import { createLaunch, instantiate, launch } from "./handler.ts";

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

/** Inserts a workflow and schedules it; returns the fixture and the task.queued messages. */
async function queued(tasks: FixtureTask[]) {
  const f = await insertWorkflow(sql, { tasks });
  const wire = await bus.record();
  await deliver(schedule, "sched.wake", { v: 1, workflow_id: f.workflowId }, bus.ctx);
  const messages = (await wire.take<TaskQueued>("task.queued")).map((m) => m.data);
  wire.stop();
  return { f, messages };
}

function launches(wire: Recording) {
  return wire.take<LaunchBatch>((s) => s.startsWith("launch."));
}

describe("launch", () => {
  test("creates one instance per task in batches, publishes them after commit, then marks them published", async () => {
    const { f, messages } = await queued(shapes.flat(3));
    const wire = await bus.record();
    await deliver(launch, "task.queued", messages[0], bus.ctx);

    const tasks = await sql<{ status: string; attempts: number }[]>`
      select status, attempts from task where workflow_id = ${f.workflowId} order by id`;
    assert.deepEqual(
      tasks.map((t) => [t.status, t.attempts]),
      [
        ["INSTANTIATING", 1],
        ["INSTANTIATING", 1],
        ["INSTANTIATING", 1],
      ],
    );
    const instances = await sql<
      {
        id: number;
        task_id: number;
        batch_id: number;
        array_step: number;
        status: string;
        memory_requested: number;
        runtime_requested: number;
        grace: number;
      }[]
    >`
      select id, task_id, batch_id, array_step, status, memory_requested, runtime_requested,
        extract(epoch from report_by - now())::int as grace
      from task_instance where workflow_id = ${f.workflowId} order by task_id`;
    assert.equal(instances.length, 3);
    assert.deepEqual(
      instances.map((i) => [i.task_id, i.array_step, i.status]),
      f.allIds.map((id, step) => [id, step, "INSTANTIATED"]),
    );
    assert.equal(new Set(instances.map((i) => i.batch_id)).size, 1);
    assert.equal(instances[0]!.memory_requested, 1024 ** 3);
    assert.equal(instances[0]!.runtime_requested, 600);
    // 30 s heartbeat × 3 missed + 60 s
    assert.ok(instances[0]!.grace > 140 && instances[0]!.grace <= 150, String(instances[0]!.grace));

    const sent = await launches(wire);
    assert.equal(sent.length, 1);
    const batchId = instances[0]!.batch_id;
    assert.equal(sent[0]!.msgID, `launch-${batchId}`);
    assert.deepEqual(sent[0]!.data, {
      v: 1,
      batch_id: batchId,
      workflow_id: f.workflowId,
      cluster: "dummy",
      queue: "all.q",
      template: "t",
      resources: { cores: 1, memory_bytes: 1024 ** 3, runtime_seconds: 600, project: null },
      heartbeat_seconds: 30,
      // The workflow's limits as the bridge holds them: none set, none changed yet.
      limits: { version: 0, workflow: null, templates: { t: null } },
      instances: instances.map((i, step) => ({
        id: i.id,
        task_id: i.task_id,
        step,
        attempt: 1,
        name: `t_${step}`,
        command: `echo t_${step}`,
      })),
    });
    const [batch] = await sql<{ instance_count: number; published: boolean; array_id: number }[]>`
      select instance_count, published_at is not null as published, array_id
      from launch_batch where id = ${batchId}`;
    assert.deepEqual(batch, { instance_count: 3, published: true, array_id: f.arrayIds["t"] });

    const [audit] = await sql<{ tasks: number; instances: number }[]>`
      select
        (select count(*)::int from task_status_audit where workflow_id = ${f.workflowId} and status = 'INSTANTIATING') as tasks,
        (select count(*)::int from task_instance_status_audit a join task_instance i on i.id = a.task_instance_id
          where i.workflow_id = ${f.workflowId} and a.status = 'INSTANTIATED') as instances`;
    assert.deepEqual(audit, { tasks: 3, instances: 3 });
    assert.deepEqual(await wire.emitted(), [
      {
        subject: `evt.tasks.${f.workflowId}`,
        data: { v: 1, workflow_id: f.workflowId, status: "INSTANTIATING", task_ids: f.allIds },
      },
    ]);

    // Redelivered: nothing new, nothing published (the batch was published).
    const again = await bus.record();
    await deliver(launch, "task.queued", messages[0], bus.ctx);
    assert.equal((await again.published()).length, 0);
    const [n] = await sql<{ n: number; attempts: number }[]>`
      select count(*)::int as n, (select sum(attempts)::int from task where workflow_id = ${f.workflowId}) as attempts
      from task_instance where workflow_id = ${f.workflowId}`;
    assert.deepEqual(n, { n: 3, attempts: 3 });
  });

  test("groups by cluster, queue, resources and array; caps batches by count and bytes", async () => {
    const tasks: FixtureTask[] = [
      ...shapes.flat(5, "a"),
      { name: "big_0", template: "a", memoryBytes: 2 * 1024 ** 3 },
      ...shapes.flat(2, "b"),
    ];
    const { f, messages } = await queued(tasks);
    const wire = await bus.record();
    await deliver(createLaunch({ maxCount: 2 }), "task.queued", messages[0], bus.ctx);
    const sent = (await launches(wire)).map((m) => m.data);
    const names = sent.map((b) => b.instances.map((i) => i.name));
    assert.deepEqual(names, [["a_0", "a_1"], ["a_2", "a_3"], ["a_4"], ["big_0"], ["b_0", "b_1"]]);
    assert.equal(sent[3]!.resources.memory_bytes, 2 * 1024 ** 3);
    for (const b of sent)
      assert.deepEqual(
        b.instances.map((i) => i.step),
        b.instances.map((_, i) => i),
      );
    const [count] = await sql<{ n: number }[]>`
      select count(*)::int as n from launch_batch where workflow_id = ${f.workflowId} and published_at is not null`;
    assert.equal(count!.n, 5);

    // Long commands: the byte cap splits what the count cap would keep together.
    const long = "x".repeat(300_000);
    const { messages: m2 } = await queued(
      shapes.flat(5, "l").map((t) => ({ ...t, command: `echo ${long}` })),
    );
    const w2 = await bus.record();
    await deliver(launch, "task.queued", m2[0], bus.ctx);
    const sizes = (await launches(w2)).map((m) => m.data.instances.length);
    assert.deepEqual(sizes, [2, 2, 1]);
  });

  test("a redelivery after a crash between commit and publish re-publishes the unpublished batches", async () => {
    const { f, messages } = await queued(shapes.flat(4));
    const msg = messages[0]!;
    // The first delivery commits and dies before publishing.
    const first = await instantiate({ sql, log: silentLogger }, f.workflowId, msg.task_ids, {
      caps: { maxCount: 3, maxBytes: 900_000 },
      heartbeatSeconds: 30,
      graceSeconds: 150,
    });
    assert.equal(first.messages.length, 2);
    // One instance was launched meanwhile (e.g. published by the reaper): it is left out.
    const launchedId = first.messages[0]!.instances[0]!.id;
    await sql`update task_instance set status = 'LAUNCHED' where id = ${launchedId}`;

    const wire = await bus.record();
    await deliver(launch, "task.queued", msg, bus.ctx);
    const sent = await launches(wire);
    assert.deepEqual(
      sent.map((m) => m.msgID),
      first.messages.map((m) => `launch-${m.batch_id}`),
    );
    assert.deepEqual(sent[0]!.data.instances, first.messages[0]!.instances.slice(1));
    assert.deepEqual(sent[1]!.data, first.messages[1]);
    const [row] = await sql<{ unpublished: number; instances: number }[]>`
      select (select count(*)::int from launch_batch where workflow_id = ${f.workflowId} and published_at is null) as unpublished,
        (select count(*)::int from task_instance where workflow_id = ${f.workflowId}) as instances`;
    assert.deepEqual(row, { unpublished: 0, instances: 4 });
  });

  test("a task that already has a live instance gets no second one, and nothing crashes", async () => {
    const { f, messages } = await queued(shapes.flat(2));
    const [t0, t1] = f.allIds;
    await sql`
      insert into task_instance (task_id, workflow_id, status) values (${t0!}, ${f.workflowId}, 'RUNNING')`;
    const wire = await bus.record();
    await deliver(launch, "task.queued", messages[0], bus.ctx);
    const sent = await launches(wire);
    assert.equal(sent.length, 1);
    assert.deepEqual(
      sent[0]!.data.instances.map((i) => i.task_id),
      [t1],
    );
    const live = await sql<{ task_id: number; n: number }[]>`
      select task_id, count(*)::int as n from task_instance
      where workflow_id = ${f.workflowId} and status in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING')
      group by task_id order by task_id`;
    assert.deepEqual(
      [...live],
      [
        { task_id: t0, n: 1 },
        { task_id: t1, n: 1 },
      ],
    );
  });

  test("a batch too large for any NATS message fails its task at once; the other batches go out", async () => {
    const huge = `echo ${"x".repeat(1_200_000)}`;
    const { f, messages } = await queued([
      { name: "big", command: huge },
      { name: "small", memoryBytes: 2 * 1024 ** 3 },
    ]);
    const wire = await bus.record();
    await deliver(launch, "task.queued", messages[0], bus.ctx);
    const sent = await launches(wire);
    assert.deepEqual(
      sent.map((b) => b.data.instances.map((i) => i.task_id)),
      [f.ids("small")],
    );
    const errors = await wire.take<TiError>("ti.error");
    assert.equal(errors.length, 1);
    const result = errors[0]!.data.results[0]!;
    assert.equal(result.kind, "unlaunchable");
    assert.match(
      result.message,
      /launch batch is \d+ bytes \(and its headers\), more than the \d+ a NATS message may have/,
    );
    // Both batches are settled: the reaper has nothing to send again.
    const [row] = await sql<{ unpublished: number }[]>`
      select count(*)::int as unpublished from launch_batch
      where workflow_id = ${f.workflowId} and published_at is null`;
    assert.equal(row!.unpublished, 0);
    // Retry makes the task ERROR_FATAL with the reason, whatever its attempts left.
    await deliver(retry, "ti.error", errors[0]!.data, bus.ctx);
    const [task] = await sql<{ status: string; error: string }[]>`
      select t.status, i.error from task t join task_instance i on i.task_id = t.id
      where t.id = ${f.taskIds["big"]!}`;
    assert.equal(task!.status, "ERROR_FATAL");
    assert.match(task!.error, /cannot be launched/);
    wire.stop();
  });

  test("planBatches: deterministic order, single oversized rows get a batch of their own", () => {
    const row = (id: number, command = "x", memory = 1): LaunchRow => ({
      id,
      workflow_id: 1,
      array_id: 1,
      cluster_id: 1,
      cluster: "dummy",
      queue_id: 1,
      queue: "all.q",
      template: "t",
      cores: 1,
      memory_bytes: memory,
      runtime_seconds: 1,
      project: null,
      name: `n${id}`,
      command,
      env: null,
      working_dir: null,
      attempts: 1,
    });
    const plan = planBatches([row(3), row(1, "y".repeat(5000)), row(2, "x", 2), row(4)], {
      maxCount: 10,
      maxBytes: 2000,
    });
    assert.deepEqual(
      plan.map((b) => b.rows.map((r) => r.id)),
      [[1], [2], [3, 4]],
    );
  });
});
