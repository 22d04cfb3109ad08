import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type postgres from "postgres";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import type { RunningFunction } from "../../bus/runtime.ts";
import { type SubmitRejected, submitWorkflow } from "../../client/submit.ts";
import { localUserToken } from "../../core/identity.ts";
import { silentLogger } from "../../core/log.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { startNats, type TestNats } from "../../test/helpers/nats.ts";
import { diamond, fanIn } from "../../test/helpers/submissions.ts";
import { startFunction } from "../context.ts";
import { bindDag } from "./handler.ts";

let nats: TestNats;
let db: FreshDatabase;
let nc: NatsConnection;
let fn: RunningFunction;

before(async () => {
  [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  nc = await connectBus(nats.url, "bind-test");
  fn = await startFunction(bindDag, { nc, sql: db.sql, log: silentLogger });
});
after(async () => {
  await fn.stop();
  await nc.drain();
  await Promise.all([nats.stop(), db.drop()]);
});

async function rowCounts(sql: postgres.Sql) {
  const [row] = await sql<{ workflows: number; tasks: number; edges: number; runs: number }[]>`
    select (select count(*)::int from workflow) as workflows, (select count(*)::int from task) as tasks,
           (select count(*)::int from edge) as edges, (select count(*)::int from workflow_run) as runs`;
  return row!;
}

describe("bind-dag", () => {
  test("binds a diamond: tasks, edges, readiness counts, rendered commands, resolved resources", async () => {
    const bound = await submitWorkflow(nc, diamond());
    assert.equal(bound.outcome, "new");
    const tasks = await db.sql<
      {
        name: string;
        command: string;
        pending_upstream: number;
        memory_bytes: number;
        runtime_seconds: number;
        queue: string;
        cluster: string;
        status: string;
      }[]
    >`select t.name, t.command, t.pending_upstream, t.memory_bytes, t.runtime_seconds, t.status,
             q.name as queue, c.name as cluster
      from task t join queue q on q.id = t.queue_id join cluster c on c.id = t.cluster_id
      where t.workflow_id = ${bound.workflow_id} order by t.id`;
    assert.deepEqual(
      tasks.map((t) => [t.name, t.command, t.pending_upstream]),
      [
        ["top", "echo top", 0],
        ["side_n-1", "echo side 1", 1],
        ["side_n-2", "echo side 2", 1],
        ["bottom", "echo bottom", 2],
      ],
    );
    assert.equal(tasks[1]!.memory_bytes, 2 * 1024 ** 3);
    assert.equal(tasks[0]!.memory_bytes, 1024 ** 3);
    assert.ok(
      tasks.every(
        (t) => t.cluster === "dummy" && t.queue === "all.q" && t.status === "REGISTERING",
      ),
    );
    const edges = await db.sql`select * from edge where workflow_id = ${bound.workflow_id}`;
    assert.equal(edges.length, 4);
    // The template-level DAG written by bind agrees with the edges themselves.
    const [templateDag] = await db.sql<{ written: string; counted: string }[]>`
      select
        (select string_agg(x, ' ' order by x) from (
           select concat_ws('>', tu.name, td.name, a.edge_count) as x
           from array_edge a
           join task_array au on au.id = a.upstream_array_id
           join task_template_version vu on vu.id = au.task_template_version_id
           join task_template tu on tu.id = vu.task_template_id
           join task_array ad on ad.id = a.downstream_array_id
           join task_template_version vd on vd.id = ad.task_template_version_id
           join task_template td on td.id = vd.task_template_id
           where a.workflow_id = ${bound.workflow_id}) s) as written,
        (select string_agg(x, ' ' order by x) from (
           select concat_ws('>', tu.name, td.name, count(*)) as x
           from edge e
           join task u on u.id = e.upstream_id join task d on d.id = e.downstream_id
           join task_array au on au.id = u.array_id
           join task_template_version vu on vu.id = au.task_template_version_id
           join task_template tu on tu.id = vu.task_template_id
           join task_array ad on ad.id = d.array_id
           join task_template_version vd on vd.id = ad.task_template_version_id
           join task_template td on td.id = vd.task_template_id
           where e.workflow_id = ${bound.workflow_id} group by tu.name, td.name) s) as counted`;
    assert.ok(templateDag!.written, "array_edge rows written");
    assert.equal(templateDag!.written, templateDag!.counted);
    const [wf] =
      await db.sql`select status, task_count, submitted_by from workflow where id = ${bound.workflow_id}`;
    assert.equal(wf!.status, "QUEUED");
    assert.equal(wf!.task_count, 4);
    const [run] = await db.sql`select user_name, host from workflow_run where id = ${bound.run_id}`;
    assert.ok(run!.user_name && run!.host);
  });

  test("a submission the catalog rejects is answered with the problem and writes nothing", async () => {
    const before = await rowCounts(db.sql);
    const sub = diamond();
    sub.templates[1]!.resources = { queue: "gpu.q" };
    await assert.rejects(submitWorkflow(nc, sub), (err: SubmitRejected) => {
      assert.equal(err.reason, "invalid");
      assert.match(err.message, /unknown queue "gpu\.q"/);
      return true;
    });
    const tooBig = diamond();
    tooBig.templates[0]!.resources = { memory_bytes: 4 * 1024 ** 4 };
    await assert.rejects(submitWorkflow(nc, tooBig), /template "top".*(fit|limit)/s);
    const unknownCluster = diamond({ cluster: "mars" });
    await assert.rejects(submitWorkflow(nc, unknownCluster), /unknown cluster "mars"/);
    assert.deepEqual(await rowCounts(db.sql), before);
  });

  test("resubmitting an identity: DONE is a no-op, FAILED needs resume, a changed DAG is refused", async () => {
    const args = { round: "7" };
    const first = await submitWorkflow(nc, diamond({ args }));
    const ids = await db.sql<
      { id: number }[]
    >`select id from task where workflow_id = ${first.workflow_id} order by id`;

    await db.sql`update workflow set status = 'DONE' where id = ${first.workflow_id}`;
    const again = await submitWorkflow(nc, diamond({ args }));
    assert.equal(again.outcome, "existing");
    assert.equal(again.workflow_id, first.workflow_id);
    assert.equal(again.status, "DONE");

    await db.sql`update workflow set status = 'FAILED' where id = ${first.workflow_id}`;
    await db.sql`update task set status = 'DONE' where id = ${ids[0]!.id}`;
    await db.sql`update task set status = 'ERROR_FATAL', attempts = 3 where id = ${ids[1]!.id}`;
    await assert.rejects(submitWorkflow(nc, diamond({ args })), (err: SubmitRejected) => {
      assert.equal(err.reason, "conflict");
      assert.match(err.message, /FAILED.*--resume/);
      return true;
    });
    const resumed = await submitWorkflow(nc, diamond({ args }), { resume: true });
    assert.equal(resumed.outcome, "resumed");
    assert.equal(resumed.workflow_id, first.workflow_id);
    const tasks = await db.sql<{ status: string; attempts: number; pending_upstream: number }[]>`
      select status, attempts, pending_upstream from task where workflow_id = ${first.workflow_id} order by id`;
    assert.deepEqual(
      tasks.map((t) => [t.status, t.attempts, t.pending_upstream]),
      [
        ["DONE", 0, 0],
        ["REGISTERING", 0, 0],
        ["REGISTERING", 0, 0],
        ["REGISTERING", 0, 2],
      ],
    );
    const runs = await db.sql`select id from workflow_run where workflow_id = ${first.workflow_id}`;
    assert.equal(runs.length, 2);
    assert.equal((await rowCounts(db.sql)).workflows >= 1, true);

    await db.sql`update workflow set status = 'RUNNING' where id = ${first.workflow_id}`;
    await assert.rejects(submitWorkflow(nc, diamond({ args })), /is RUNNING/);

    const changed = diamond({ args });
    changed.tasks[3]!.upstream = [1];
    await assert.rejects(submitWorkflow(nc, changed), (err: SubmitRejected) => {
      assert.equal(err.reason, "conflict");
      assert.match(err.message, /different DAG/);
      return true;
    });
  });

  test("binding a held workflow again with --hold answers it as it is; without, it is refused", async () => {
    const args = { held: "1" };
    const first = await submitWorkflow(nc, diamond({ args }), { hold: true });
    assert.equal(first.status, "REGISTERING");
    const before = await rowCounts(db.sql);
    const again = await submitWorkflow(nc, diamond({ args }), { hold: true });
    assert.deepEqual(
      [again.workflow_id, again.run_id, again.status, again.outcome],
      [first.workflow_id, first.run_id, "REGISTERING", "existing"],
    );
    assert.deepEqual(await rowCounts(db.sql), before, "nothing written");
    await assert.rejects(submitWorkflow(nc, diamond({ args })), (err: SubmitRejected) => {
      assert.equal(err.reason, "conflict");
      assert.equal(err.workflowId, first.workflow_id);
      return true;
    });
    const changed = diamond({ args });
    changed.tasks[3]!.upstream = [1];
    await assert.rejects(submitWorkflow(nc, changed, { hold: true }), /different DAG/);
  });

  test("a submit delivered twice binds once", async () => {
    const sub = fanIn(50, { args: { dup: "1" } });
    const first = await submitWorkflow(nc, sub);
    const before = await rowCounts(db.sql);
    // The same submission id published again (outside the dedupe window, as after a
    // restart): bind-dag answers again from what is there and writes nothing.
    const { jetstream } = await import("@nats-io/jetstream");
    const [run] = await db.sql`select submission_id from workflow_run where id = ${first.run_id}`;
    const reply = nc.subscribe(`wf.reply.${localUserToken()}.${run!.submission_id}`, { max: 1 });
    await jetstream(nc).publish(
      `wf.submit.${localUserToken()}`,
      JSON.stringify({
        v: 1,
        submission_id: run!.submission_id,
        object: { bucket: `drover-dags-${localUserToken()}`, name: "gone" },
        tool: sub.tool,
        workflow: sub.workflow,
        counts: { templates: 2, tasks: 51, edges: 50 },
      }),
    );
    for await (const m of reply) {
      const answer = m.json<{ ok: boolean; workflow_id: number }>();
      assert.equal(answer.ok, true);
      assert.equal(answer.workflow_id, first.workflow_id);
    }
    assert.deepEqual(await rowCounts(db.sql), before);
  });
});
