import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import { QuerySubjects } from "../../bus/queries.ts";
import { silentLogger } from "../../core/log.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { doneMsg, launchedMsg, runningMsg, scheduleAndLaunch } from "../../test/helpers/drive.ts";
import { deliver, fakeContext } from "../../test/helpers/fake-context.ts";
import { startNats, type TestNats } from "../../test/helpers/nats.ts";
import { type Fixture, insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { complete } from "../complete/handler.ts";
import { heartbeat } from "../heartbeat/handler.ts";
import { type RunningService, startQueryService } from "./service.ts";

let db: FreshDatabase;
let sql: Sql;
let nats: TestNats;
let nc: NatsConnection;
let service: RunningService;
let f: Fixture;

// A diamond with top_0 DONE, mid_0 RUNNING, mid_1 failed once (ERROR instance) and queued
// again, bottom_0 waiting.
before(async () => {
  db = await freshDatabase();
  sql = db.sql;
  nats = await startNats();
  nc = await connectBus(nats.url, "query-test");
  service = await startQueryService({ nc, sql, log: silentLogger });
  f = await insertWorkflow(sql, { tasks: shapes.diamond(), name: "burden 2026" });
  const [top] = await scheduleAndLaunch(sql, f.workflowId);
  const ctx = fakeContext(sql);
  await deliver(heartbeat, "ti.launched", launchedMsg(top!), ctx);
  await deliver(complete, "ti.done", doneMsg([top!.instances[0]!.id]), ctx);
  const mids = await scheduleAndLaunch(sql, f.workflowId);
  const inst = Object.fromEntries(mids.flatMap((b) => b.instances.map((i) => [i.name, i.id])));
  await deliver(heartbeat, "ti.running", runningMsg([inst["mid_0"]!]), ctx);
  await sql`
    update task_instance set status = 'ERROR', exit_code = 3, error = 'boom: exit 3'
    where id = ${inst["mid_1"]!}`;
  await sql`update task set status = 'QUEUED' where id = ${f.taskIds["mid_1"]!}`;
});
after(async () => {
  await service.stop();
  await nc.drain();
  await nats.stop();
  await db.drop();
});

async function ask(subject: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const reply = await nc.request(subject, payload, { timeout: 5000 });
  return reply.json();
}

describe("query service", () => {
  test("query.workflow: status, nine counts with zeros, latest run, times", async () => {
    const a = await ask(QuerySubjects.workflow, { workflow_id: f.workflowId });
    assert.equal(a["id"], f.workflowId);
    assert.equal(a["name"], "burden 2026");
    assert.equal(a["status"], "RUNNING");
    assert.equal(a["total"], 4);
    assert.deepEqual(a["counts"], {
      REGISTERING: 1,
      QUEUED: 1,
      INSTANTIATING: 0,
      LAUNCHED: 0,
      RUNNING: 1,
      DONE: 1,
      ERROR_RECOVERABLE: 0,
      ADJUSTING_RESOURCES: 0,
      ERROR_FATAL: 0,
    });
    assert.deepEqual(a["run"], { id: f.runId, status: "RUNNING" });
    assert.ok(!Number.isNaN(Date.parse(String(a["created_at"]))));
    assert.ok(!Number.isNaN(Date.parse(String(a["status_at"]))));
  });

  test("query.tasks: all, filtered by status (any case), paged", async () => {
    const all = await ask(QuerySubjects.tasks, { workflow_id: f.workflowId });
    assert.equal(all["workflow"], f.workflowId);
    assert.equal(all["total"], 4);
    assert.deepEqual(all["tasks"], [
      { id: f.taskIds["top_0"], name: "top_0", template: "top", status: "DONE", attempts: 1 },
      { id: f.taskIds["mid_0"], name: "mid_0", template: "mid", status: "RUNNING", attempts: 1 },
      { id: f.taskIds["mid_1"], name: "mid_1", template: "mid", status: "QUEUED", attempts: 1 },
      {
        id: f.taskIds["bottom_0"],
        name: "bottom_0",
        template: "bottom",
        status: "REGISTERING",
        attempts: 0,
      },
    ]);
    const running = await ask(QuerySubjects.tasks, {
      workflow_id: f.workflowId,
      status: "running",
    });
    assert.deepEqual(
      (running["tasks"] as { name: string }[]).map((t) => t.name),
      ["mid_0"],
    );
    assert.equal(running["total"], 1);
    const page = await ask(QuerySubjects.tasks, { workflow_id: f.workflowId, limit: 2, offset: 1 });
    assert.deepEqual(
      (page["tasks"] as { name: string }[]).map((t) => t.name),
      ["mid_0", "mid_1"],
    );
  });

  test("query.task: the task with its instances", async () => {
    const a = await ask(QuerySubjects.task, { task_id: f.taskIds["mid_1"] });
    assert.equal(a["id"], f.taskIds["mid_1"]);
    assert.equal(a["name"], "mid_1");
    assert.equal(a["workflow"], f.workflowId);
    assert.equal(a["status"], "QUEUED");
    assert.equal(a["attempts"], 1);
    assert.equal(a["command"], "echo mid_1");
    const instances = a["instances"] as Record<string, unknown>[];
    assert.equal(instances.length, 1);
    assert.deepEqual(Object.keys(instances[0]!).sort(), [
      "distributor_id",
      "error",
      "exit_code",
      "id",
      "memory_requested",
      "memory_used",
      "node",
      "runtime_used",
      "status",
      "stderr",
      "stdout",
    ]);
    assert.equal(instances[0]!["status"], "ERROR");
    assert.equal(instances[0]!["exit_code"], 3);
    assert.equal(instances[0]!["memory_requested"], 1024 ** 3);

    const top = await ask(QuerySubjects.task, { task_id: f.taskIds["top_0"] });
    const ti = (top["instances"] as Record<string, unknown>[])[0]!;
    assert.equal(ti["status"], "DONE");
    assert.equal(ti["stdout"], `/logs/${ti["id"]}.out`);
    assert.equal(ti["runtime_used"], 1.5);
    assert.equal(ti["memory_used"], 1000);
    assert.equal(ti["node"], "node-1");
  });

  test("query.errors: failed instances with their message", async () => {
    const a = await ask(QuerySubjects.errors, { workflow_id: f.workflowId });
    const errors = a["errors"] as Record<string, unknown>[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!["task"], f.taskIds["mid_1"]);
    assert.equal(errors[0]!["task_name"], "mid_1");
    assert.equal(errors[0]!["exit_code"], 3);
    assert.equal(errors[0]!["message"], "boom: exit 3");
    assert.equal(typeof errors[0]!["instance"], "number");
    assert.ok(!Number.isNaN(Date.parse(String(errors[0]!["time"]))));
  });

  test("query.workflows: newest first, filtered by status (any case) and name", async () => {
    const all = await ask(QuerySubjects.workflows, {});
    const rows = all["workflows"] as { id: number; name: string; total: number; counts: object }[];
    assert.equal(all["total"], 1);
    assert.equal(rows[0]!.id, f.workflowId);
    assert.equal(rows[0]!.total, 4);
    assert.equal((rows[0]!.counts as Record<string, number>)["DONE"], 1);
    const running = await ask(QuerySubjects.workflows, { status: "running", name: "BURDEN" });
    assert.equal(running["total"], 1);
    const done = await ask(QuerySubjects.workflows, { status: "DONE" });
    assert.deepEqual(done, { total: 0, workflows: [] });
    assert.match(
      String((await ask(QuerySubjects.workflows, { status: "SLEEPING" }))["error"]),
      /status/,
    );
  });

  test("unknown ids and bad requests are answered with an error naming the problem", async () => {
    assert.deepEqual(await ask(QuerySubjects.workflow, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
    assert.deepEqual(await ask(QuerySubjects.tasks, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
    assert.deepEqual(await ask(QuerySubjects.errors, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
    assert.deepEqual(await ask(QuerySubjects.task, { task_id: 999999 }), {
      error: "task 999999 does not exist",
    });
    assert.match(String((await ask(QuerySubjects.workflow, "{nope"))["error"]), /not JSON/);
    assert.match(
      String((await ask(QuerySubjects.workflow, { workflow_id: "x" }))["error"]),
      /workflow_id/,
    );
    assert.match(String((await ask(QuerySubjects.workflow, ""))["error"]), /workflow_id/);
    assert.match(
      String((await ask(QuerySubjects.tasks, { workflow_id: 1, status: "NOPE" }))["error"]),
      /status/,
    );
    assert.match(
      String((await ask(QuerySubjects.tasks, { workflow_id: 1, limit: 10 ** 9 }))["error"]),
      /limit/,
    );
    assert.match(String((await ask("query.nothing", {}))["error"]), /unknown query query\.nothing/);
    // Still serving.
    assert.equal(
      (await ask(QuerySubjects.workflow, { workflow_id: f.workflowId }))["id"],
      f.workflowId,
    );
  });
});
