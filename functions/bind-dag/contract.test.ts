// A submission made from the documented contract alone (bus/submit.ts, submission/DAG_FORMAT.md)
// with plain NATS clients, as a program in another language would: no Drover client code.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { RunningFunction } from "../../bus/runtime.ts";
import { localUserToken, userFromToken } from "../../core/identity.ts";
import { silentLogger } from "../../core/log.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { startNats, type TestNats } from "../../test/helpers/nats.ts";
import { startFunction } from "../context.ts";
import { bindDag } from "./handler.ts";

let nats: TestNats;
let db: FreshDatabase;
let nc: NatsConnection;
let fn: RunningFunction;

before(async () => {
  [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  nc = await connect({ servers: nats.url });
  fn = await startFunction(bindDag, { nc, sql: db.sql, log: silentLogger });
});
after(async () => {
  await fn.stop();
  await nc.drain();
  await Promise.all([nats.stop(), db.drop()]);
});

test("a workflow published with plain NATS clients, following only the documented contract, binds", async () => {
  const lines = [
    {
      kind: "template",
      name: "fetch",
      command: "curl -o {file} {url}",
      node_args: ["file"],
      task_args: [],
      op_args: ["url"],
    },
    {
      kind: "template",
      name: "count",
      command: "wc -l {file}",
      node_args: ["file"],
      task_args: [],
      op_args: [],
    },
    {
      kind: "task",
      i: 0,
      template: "fetch",
      name: "fetch_a",
      args: { file: "a.txt", url: "http://x/a" },
      upstream: [],
    },
    {
      kind: "task",
      i: 1,
      template: "fetch",
      name: "fetch_b",
      args: { file: "b.txt", url: "http://x/b" },
      upstream: [],
    },
    {
      kind: "task",
      i: 2,
      template: "count",
      name: "count_a",
      args: { file: "a.txt" },
      upstream: [0],
    },
    {
      kind: "task",
      i: 3,
      template: "count",
      name: "count_b",
      args: { file: "b.txt" },
      upstream: [1],
    },
  ];
  const body = gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  // Under the submitter's user token: their bucket, their subjects (bus/submit.ts).
  const me = localUserToken();
  const store = await new Objm(nc).create(`drover-dags-${me}`);
  const info = await store.putBlob({ name: "dag-from-elsewhere" }, body);

  const submissionId = "other-language-0001";
  const reply = nc.subscribe(`wf.reply.${me}.${submissionId}`, { max: 1 });
  await jetstream(nc).publish(
    `wf.submit.${me}`,
    JSON.stringify({
      v: 1,
      submission_id: submissionId,
      object: { bucket: `drover-dags-${me}`, name: "dag-from-elsewhere", digest: info.digest },
      tool: { name: "polyglot", version: "2" },
      workflow: { name: "from elsewhere", args: { batch: 1 }, default_cluster: "dummy" },
      counts: { templates: 2, tasks: 4, edges: 2 },
      user: "someone",
      host: "elsewhere",
    }),
    { msgID: submissionId },
  );
  let answer: { ok: boolean; workflow_id?: number; error?: string } | undefined;
  for await (const m of reply) answer = m.json();
  assert.equal(answer?.ok, true, answer?.error);
  const tasks = await db.sql<{ name: string; command: string; pending_upstream: number }[]>`
    select name, command, pending_upstream from task where workflow_id = ${answer!.workflow_id!} order by name`;
  assert.deepEqual(
    tasks.map((t) => [t.name, t.command, t.pending_upstream]),
    [
      ["count_a", "wc -l a.txt", 1],
      ["count_b", "wc -l b.txt", 1],
      ["fetch_a", "curl -o a.txt http://x/a", 0],
      ["fetch_b", "curl -o b.txt http://x/b", 0],
    ],
  );
  const [run] =
    await db.sql`select user_name, host from workflow_run where workflow_id = ${answer!.workflow_id!}`;
  // Who submitted is the subject's token, never what the body says ("someone").
  assert.deepEqual({ ...run }, { user_name: userFromToken(me), host: "elsewhere" });
});
