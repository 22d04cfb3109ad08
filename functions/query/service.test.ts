import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import { fillToken } from "../../bus/contract.ts";
import { QueryService } from "../../bus/queries.ts";
import { localUserToken, userToken } from "../../core/identity.ts";
import { silentLogger } from "../../core/log.ts";
import { savePerson } from "../../store/people.ts";
import { deliver, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { doneMsg, launchedMsg, runningMsg, scheduleAndLaunch } from "../../test/helpers/drive.ts";
import { type Fixture, insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { complete } from "../complete/handler.ts";
import { heartbeat } from "../heartbeat/handler.ts";
import { type RunningService, startQueryService } from "./service.ts";

let db: FreshDatabase;
let sql: Sql;
let bus: TestBus;
let nc: NatsConnection;
let service: RunningService;
let f: Fixture;
const Q = Object.fromEntries(
  Object.entries(QueryService.endpoints).map(([k, e]) => [k, e.subject]),
) as { [K in keyof typeof QueryService.endpoints]: string };

// A diamond with top_0 DONE, mid_0 RUNNING, mid_1 failed once (ERROR instance) and queued
// again, bottom_0 waiting.
before(async () => {
  db = await freshDatabase();
  sql = db.sql;
  bus = await startTestBus(sql);
  nc = await connectBus(bus.nats.url, "query-test");
  service = await startQueryService({ nc, sql, log: silentLogger });
  f = await insertWorkflow(sql, { tasks: shapes.diamond(), name: "burden 2026" });
  const [top] = await scheduleAndLaunch(bus, f.workflowId);
  await deliver(heartbeat, "ti.launched", launchedMsg(top!), bus.ctx);
  await deliver(complete, "ti.done", doneMsg([top!.instances[0]!.id]), bus.ctx);
  const mids = await scheduleAndLaunch(bus, f.workflowId);
  const inst = Object.fromEntries(mids.flatMap((b) => b.instances.map((i) => [i.name, i.id])));
  await deliver(heartbeat, "ti.running", runningMsg([inst["mid_0"]!]), bus.ctx);
  await sql`
    update task_instance set status = 'ERROR', exit_code = 3, error = 'boom: exit 3'
    where id = ${inst["mid_1"]!}`;
  await sql`update task set status = 'QUEUED' where id = ${f.taskIds["mid_1"]!}`;
});
after(async () => {
  await service.stop();
  await nc.drain();
  await bus.stop();
  await db.drop();
});

async function ask(subject: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  // Asked as the user running the tests: `query.<me>.<what>`.
  const concrete = subject.includes("*") ? fillToken(subject, localUserToken()) : subject;
  const reply = await nc.request(concrete, payload, { timeout: 5000 });
  return reply.json();
}

describe("query service", () => {
  test("query.workflow: status, nine counts with zeros, latest run, times", async () => {
    const a = await ask(Q.workflow, { workflow_id: f.workflowId });
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
    const all = await ask(Q.tasks, { workflow_id: f.workflowId });
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
    const running = await ask(Q.tasks, {
      workflow_id: f.workflowId,
      status: "running",
    });
    assert.deepEqual(
      (running["tasks"] as { name: string }[]).map((t) => t.name),
      ["mid_0"],
    );
    assert.equal(running["total"], 1);
    const page = await ask(Q.tasks, { workflow_id: f.workflowId, limit: 2, offset: 1 });
    assert.deepEqual(
      (page["tasks"] as { name: string }[]).map((t) => t.name),
      ["mid_0", "mid_1"],
    );
  });

  test("query.task: the task with its instances", async () => {
    const a = await ask(Q.task, { task_id: f.taskIds["mid_1"] });
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

    const top = await ask(Q.task, { task_id: f.taskIds["top_0"] });
    const ti = (top["instances"] as Record<string, unknown>[])[0]!;
    assert.equal(ti["status"], "DONE");
    assert.equal(ti["stdout"], `/logs/${ti["id"]}.out`);
    assert.equal(ti["runtime_used"], 1.5);
    assert.equal(ti["memory_used"], 1000);
    assert.equal(ti["node"], "node-1");
  });

  test("query.errors: failed instances with their message", async () => {
    const a = await ask(Q.errors, { workflow_id: f.workflowId });
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
    const all = await ask(Q.workflows, {});
    const rows = all["workflows"] as { id: number; name: string; total: number; counts: object }[];
    assert.equal(all["total"], 1);
    assert.equal(rows[0]!.id, f.workflowId);
    assert.equal(rows[0]!.total, 4);
    assert.equal((rows[0]!.counts as Record<string, number>)["DONE"], 1);
    const running = await ask(Q.workflows, { status: "running", name: "BURDEN" });
    assert.equal(running["total"], 1);
    const done = await ask(Q.workflows, { status: "DONE" });
    assert.deepEqual(done, { total: 0, workflows: [] });
    assert.match(String((await ask(Q.workflows, { status: "SLEEPING" }))["error"]), /status/);
  });

  test("query.dependencies: direct upstream and downstream tasks with template and status", async () => {
    const n = (name: string, template: string, status: string) => ({
      id: f.taskIds[name],
      name,
      template,
      status,
    });
    const mid = await ask(Q.dependencies, { task_id: f.taskIds["mid_1"] });
    assert.deepEqual(mid, {
      task: n("mid_1", "mid", "QUEUED"),
      upstream: [n("top_0", "top", "DONE")],
      upstream_total: 1,
      downstream: [n("bottom_0", "bottom", "REGISTERING")],
      downstream_total: 1,
      limit: 100,
      offset: 0,
    });
    const bottom = await ask(Q.dependencies, { task_id: f.taskIds["bottom_0"] });
    assert.deepEqual(bottom["upstream"], [
      n("mid_0", "mid", "RUNNING"),
      n("mid_1", "mid", "QUEUED"),
    ]);
    assert.deepEqual([bottom["downstream"], bottom["downstream_total"]], [[], 0]);
    assert.deepEqual(await ask(Q.dependencies, { task_id: 999999 }), {
      error: "task 999999 does not exist",
    });
  });

  test("query.dependencies: a fan-in of thousands comes a page at a time, with its total", async () => {
    const fan = await insertWorkflow(sql, { tasks: shapes.fanOutIn(3000) });
    const work = (i: number) => fan.taskIds[`work_${i}`];
    const first = await ask(Q.dependencies, { task_id: fan.taskIds["join_0"] });
    assert.equal(first["upstream_total"], 3000);
    const ids = (a: Record<string, unknown>, key: string) =>
      (a[key] as { id: number }[]).map((t) => t.id);
    assert.deepEqual(
      ids(first, "upstream"),
      Array.from({ length: 100 }, (_, i) => work(i)),
    );
    const last = await ask(Q.dependencies, {
      task_id: fan.taskIds["join_0"],
      limit: 100,
      offset: 2950,
    });
    assert.deepEqual(
      ids(last, "upstream"),
      Array.from({ length: 50 }, (_, i) => work(2950 + i)),
    );
    const split = await ask(Q.dependencies, {
      task_id: fan.taskIds["split_0"],
      limit: 2000,
    });
    assert.equal(split["downstream_total"], 3000);
    assert.equal((split["downstream"] as unknown[]).length, 2000);
    assert.match(
      String((await ask(Q.dependencies, { task_id: 1, limit: 2001 }))["error"]),
      /limit/,
    );
  });

  test("query.resources: per template over DONE instances; every template listed", async () => {
    const a = await ask(Q.resources, { workflow_id: f.workflowId });
    const byName = Object.fromEntries(
      (a["templates"] as { template: string }[]).map((t) => [t.template, t]),
    );
    assert.deepEqual(Object.keys(byName).sort(), ["bottom", "mid", "top"]);
    // top_0: one DONE instance (1000 bytes, 1.5 s used; 1 GiB, 600 s requested)
    assert.deepEqual(byName["top"], {
      template: "top",
      done: 1,
      memory: {
        measured: 1,
        used: { min: 1000, max: 1000, mean: 1000, median: 1000, p90: 1000, p95: 1000 },
        requested: { min: 1024 ** 3, max: 1024 ** 3 },
      },
      runtime: {
        measured: 1,
        used: { min: 1.5, max: 1.5, mean: 1.5, median: 1.5, p90: 1.5, p95: 1.5 },
        requested: { min: 600, max: 600 },
      },
      cores: 1,
      queue: "all.q",
    });
    // mid: an ERROR and a RUNNING instance, none DONE
    const nothing = { min: null, max: null, mean: null, median: null, p90: null, p95: null };
    const mid = byName["mid"] as Record<string, unknown>;
    assert.equal(mid["done"], 0);
    assert.deepEqual(mid["memory"], {
      measured: 0,
      used: nothing,
      requested: { min: null, max: null },
    });
    assert.deepEqual([mid["cores"], mid["queue"]], [null, null]);

    const one = await ask(Q.resources, { workflow_id: f.workflowId, template: "top" });
    assert.deepEqual(
      (one["templates"] as { template: string }[]).map((t) => t.template),
      ["top"],
    );
    assert.deepEqual(await ask(Q.resources, { workflow_id: f.workflowId, template: "nope" }), {
      error: `workflow ${f.workflowId} has no template "nope" (its templates: bottom, mid, top)`,
    });
    assert.deepEqual(await ask(Q.resources, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
  });

  test("unknown ids and bad requests are answered with an error naming the problem", async () => {
    assert.deepEqual(await ask(Q.workflow, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
    assert.deepEqual(await ask(Q.tasks, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
    assert.deepEqual(await ask(Q.errors, { workflow_id: 999999 }), {
      error: "workflow 999999 does not exist",
    });
    assert.deepEqual(await ask(Q.task, { task_id: 999999 }), {
      error: "task 999999 does not exist",
    });
    assert.match(String((await ask(Q.workflow, "{nope"))["error"]), /not JSON/);
    assert.match(String((await ask(Q.workflow, { workflow_id: "x" }))["error"]), /workflow_id/);
    assert.match(String((await ask(Q.workflow, ""))["error"]), /workflow_id/);
    assert.match(
      String((await ask(Q.tasks, { workflow_id: 1, status: "NOPE" }))["error"]),
      /status/,
    );
    assert.match(
      String((await ask(Q.tasks, { workflow_id: 1, limit: 10 ** 9 }))["error"]),
      /limit/,
    );
    assert.match(
      String((await ask("query.*.nothing", {}))["error"]),
      /unknown query query\.[^.]+\.nothing/,
    );
    // Still serving.
    assert.equal((await ask(Q.workflow, { workflow_id: f.workflowId }))["id"], f.workflowId);
  });

  test("query.logs and query.environment: the owner's and admins', refused to anyone else", async () => {
    const mid0 = f.taskIds["mid_0"]!;
    const asker = (token: string) => (subject: string, body: unknown) =>
      nc
        .request(fillToken(subject, token), JSON.stringify(body), { timeout: 5000 })
        .then((r) => r.json<Record<string, unknown>>());
    const mine = await ask(Q.logs, { task_id: mid0, stream: "stderr" });
    assert.equal(mine["task"], mid0);
    assert.equal(mine["attempt"], 1);
    assert.equal(mine["attempts"], 1);
    assert.equal(mine["stream"], "stderr");
    assert.equal(mine["ended"], false, "a RUNNING instance may still write");
    assert.match(
      String((await ask(Q.logs, { task_id: mid0, attempt: 2 }))["error"]),
      /no attempt 2/,
    );
    assert.match(String((await ask(Q.logs, { task_id: 999999 }))["error"]), /does not exist/);
    assert.match(
      String((await ask(Q.logs, { task_id: f.taskIds["bottom_0"]! }))["error"]),
      /has no attempt: it has not started yet/,
    );
    // Someone else: refused, naming the owner; an admin may.
    const bob = userToken("bob-logs");
    const boss = userToken("boss-logs");
    for (const subject of [Q.logs, Q.environment]) {
      const refused = await asker(bob)(subject, { task_id: mid0 });
      assert.match(String(refused["error"]), /private to its owner, .+, and admins/);
    }
    await savePerson(sql, { token: boss, user_name: "boss-logs", admin: true, nkey: null });
    assert.equal((await asker(boss)(Q.logs, { task_id: mid0 }))["task"], mid0);
    const env = await asker(boss)(Q.environment, { task_id: mid0 });
    assert.deepEqual(env, { task: mid0, working_dir: null, env: null });
  });
});
