// bind-dag writes each task's retry settings and placement by precedence task >
// template > workflow: per-task resource_scales and fallback_queues, per-template and
// per-task max_attempts, and large resources, read back from the rows as numbers.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import type { RunningFunction } from "../../bus/runtime.ts";
import { submitWorkflow } from "../../client/submit.ts";
import { silentLogger } from "../../core/log.ts";
import { parseSpec } from "../../submission/load.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { startNats, type TestNats } from "../../test/helpers/nats.ts";
import { startFunction } from "../context.ts";
import { bindDag } from "./handler.ts";

const G = 1024 ** 3;
const T = 1024 ** 4;

let nats: TestNats;
let db: FreshDatabase;
let nc: NatsConnection;
let fn: RunningFunction;

before(async () => {
  [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  nc = await connectBus(nats.url, "bind-settings-test");
  fn = await startFunction(bindDag, { nc, sql: db.sql, log: silentLogger });
});
after(async () => {
  await fn.stop();
  await nc.drain();
  await Promise.all([nats.stop(), db.drop()]);
});

const spec = `
tool: { name: bind_settings }
workflow: { name: settings, default_cluster: dummy, default_max_attempts: 2 }
templates:
  - name: fit
    command: "fit {i}"
    node_args: [i]
    resource_scales: { memory: 0.5, runtime: [3600] }
    fallback_queues: [long.q]
    max_attempts: 4
  - { name: plain, command: "plain {i}", node_args: [i] }
tasks:
  - { template: fit, foreach: { i: [1, 2] } }
  - template: fit
    args: { i: 3 }
    resources: { memory: 1T, cores: 256 }
    resource_scales: { memory: [4, 8] }
    fallback_queues: []
    max_attempts: 6
  - { template: plain, args: { i: 1 } }
  - { template: plain, args: { i: 2 }, resources: { runtime: 30d }, fallback_queues: [long.q] }
`;

describe("bind-dag: per-task settings", () => {
  test("each row holds its own settings, else its template's, else the workflow's", async () => {
    const bound = await submitWorkflow(nc, parseSpec(spec, "yaml"));
    assert.equal(bound.outcome, "new");
    const rows = await db.sql<
      {
        name: string;
        max_attempts: number;
        resource_scales: unknown;
        fallback_queues: string[] | null;
        queue: string;
        memory_bytes: number;
        runtime_seconds: number;
        cores: number;
      }[]
    >`select t.name, t.max_attempts, t.resource_scales, t.fallback_queues, q.name as queue,
             t.memory_bytes, t.runtime_seconds, t.cores
      from task t join queue q on q.id = t.queue_id
      where t.workflow_id = ${bound.workflow_id} order by t.id`;
    const templateScales = { memory: 0.5, runtime: [3600] };
    assert.deepEqual(
      rows.map((r) => [r.name, r.max_attempts, r.resource_scales, r.fallback_queues, r.queue]),
      [
        ["fit_i-1", 4, templateScales, ["long.q"], "all.q"],
        ["fit_i-2", 4, templateScales, ["long.q"], "all.q"],
        // Its scales over the template's, resource by resource; its empty list of queues.
        ["fit_i-3", 6, { memory: [4 * G, 8 * G], runtime: [3600] }, [], "all.q"],
        ["plain_i-1", 2, null, null, "all.q"],
        // Only its own fallback queue holds 30 days.
        ["plain_i-2", 2, null, ["long.q"], "long.q"],
      ],
    );
    const big = rows[2]!;
    assert.deepEqual([big.memory_bytes, big.cores], [T, 256]);
    assert.equal(typeof big.memory_bytes, "number", "bigint read back as a number");
    assert.equal(rows[4]!.runtime_seconds, 30 * 86400);
  });

  test("a task's own unknown fallback queue is refused naming the task, and nothing is written", async () => {
    const bad = spec
      .replace("name: settings", "name: settings-bad")
      .replace("fallback_queues: [long.q] }", "fallback_queues: [nope.q] }");
    const sub = parseSpec(bad, "yaml");
    const before = await db.sql<{ n: number }[]>`select count(*)::int as n from task`;
    await assert.rejects(
      submitWorkflow(nc, sub),
      /task "plain_i-2": fallback queue "nope\.q" is not a queue of cluster "dummy"/,
    );
    const afterRows = await db.sql<{ n: number }[]>`select count(*)::int as n from task`;
    assert.equal(afterRows[0]!.n, before[0]!.n);
  });
});
