// Problems found late in a big DAG, after rows of it were sent to Postgres: the bind's
// COPYs are given up, the transaction rolls back, and bind-dag binds the next one.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { gzipSync } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { RunningFunction } from "../../bus/runtime.ts";
import { localUserToken } from "../../core/identity.ts";
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

const N = 120_000;

/** A chain of N tasks, each after the one before; `last` replaces the last line. */
function chain(last?: string): { text: string; edges: number } {
  const lines = [
    JSON.stringify({
      kind: "template",
      name: "x",
      command: "x {n}",
      node_args: ["n"],
      task_args: [],
      op_args: [],
    }),
  ];
  for (let i = 0; i < N; i++) {
    const upstream = i > 0 ? [i - 1] : [];
    lines.push(
      JSON.stringify({
        kind: "task",
        i,
        template: "x",
        name: `x_${i}`,
        args: { n: `${i}` },
        upstream,
      }),
    );
  }
  if (last !== undefined) lines[N] = last;
  return { text: `${lines.join("\n")}\n`, edges: N - 1 };
}

async function submit(id: string, text: string, edges: number) {
  const store = await new Objm(nc).create(`drover-dags-${localUserToken()}`);
  const info = await store.putBlob({ name: `dag-${id}` }, gzipSync(text, { level: 1 }));
  const reply = nc.subscribe(`wf.reply.${localUserToken()}.${id}`, { max: 1 });
  await jetstream(nc).publish(
    `wf.submit.${localUserToken()}`,
    JSON.stringify({
      v: 1,
      submission_id: id,
      object: { bucket: `drover-dags-${localUserToken()}`, name: `dag-${id}`, digest: info.digest },
      tool: { name: "late", version: "1" },
      workflow: { name: id, args: { id }, default_cluster: "dummy" },
      counts: { templates: 1, tasks: N, edges },
    }),
    { msgID: id },
  );
  for await (const m of reply) {
    return m.json<{ ok: boolean; reason?: string; error?: string; workflow_id?: number }>();
  }
  throw new Error("no answer");
}

async function counts() {
  const [row] = await db.sql<{ tasks: number; edges: number; workflows: number }[]>`
    select (select count(*)::int from task) as tasks, (select count(*)::int from edge) as edges,
           (select count(*)::int from workflow) as workflows`;
  return row!;
}

test("a repeated identity in the last line, or a line that is not JSON: nothing is written", {
  timeout: 120_000,
}, async () => {
  const duplicate = JSON.stringify({
    kind: "task",
    i: N - 1,
    template: "x",
    name: "x_last",
    args: { n: "7" },
    upstream: [N - 2],
  });
  const a = await submit("late-duplicate", chain(duplicate).text, N - 1);
  assert.equal(a.ok, false);
  assert.equal(a.reason, "invalid");
  assert.match(a.error ?? "", /task "x_last": same template and node_args as an earlier task/);

  const b = await submit("late-garbage", chain("{not json").text, N - 1);
  assert.equal(b.reason, "invalid");
  assert.match(b.error ?? "", new RegExp(`DAG line ${N + 1} is not JSON`));
  assert.deepEqual(await counts(), { tasks: 0, edges: 0, workflows: 0 });

  const { text, edges } = chain();
  const c = await submit("after-the-problems", text, edges);
  assert.equal(c.ok, true, c.error);
  assert.deepEqual(await counts(), { tasks: N, edges: N - 1, workflows: 1 });
  const [last] = await db.sql<{ pending_upstream: number; command: string }[]>`
    select pending_upstream, command from task where name = ${`x_${N - 1}`}`;
  assert.deepEqual({ ...last }, { pending_upstream: 1, command: `x ${N - 1}` });
});
