// bind-dag killed with SIGKILL in the middle of a bind, then restarted: the redelivered
// submission binds once, with exactly one copy of every task and edge.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import { submitWorkflow } from "../../client/submit.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { startNats, type TestNats, waitForFunctions } from "../../test/helpers/nats.ts";
import { fanIn } from "../../test/helpers/submissions.ts";

let nats: TestNats;
let db: FreshDatabase;
let nc: NatsConnection;
const children: ChildProcess[] = [];

before(async () => {
  [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  nc = await connectBus(nats.url, "crash-test");
});
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await nc.drain();
  await Promise.all([nats.stop(), db.drop()]);
});

function startBinder(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "functions/main.ts", "bind-dag"], {
    env: {
      ...process.env,
      DROVER_NATS_URL: nats.url,
      DROVER_DATABASE_URL: db.url,
      DROVER_LOG_LEVEL: "error",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.push(child);
  return child;
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("bind-dag SIGKILLed mid-bind and restarted binds exactly once", {
  timeout: 180_000,
}, async () => {
  const first = startBinder();
  await waitForFunctions(nats.url, ["bind-dag"]);
  const n = 60_000;
  const submitted = submitWorkflow(nc, fanIn(n, { args: { crash: "1" } }), { timeoutMs: 150_000 });
  // Kill it while its COPY is streaming tasks into the open bind transaction.
  await until(async () => {
    const rows = await db.sql`
      select 1 from pg_stat_activity
      where datname = current_database() and query ilike 'copy task%' and state <> 'idle'`;
    return rows.length > 0;
  }, 60_000);
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  const [midway] = await db.sql<{ tasks: number }[]>`select count(*)::int as tasks from task`;
  assert.equal(midway!.tasks, 0, "an interrupted bind leaves nothing behind");

  startBinder();
  const bound = await submitted;
  const [row] = await db.sql<
    { workflows: number; tasks: number; distinct_tasks: number; edges: number }[]
  >`
    select (select count(*)::int from workflow) as workflows,
           (select count(*)::int from task) as tasks,
           (select count(distinct hash)::int from task) as distinct_tasks,
           (select count(*)::int from edge) as edges`;
  assert.deepEqual({ ...row }, { workflows: 1, tasks: n + 1, distinct_tasks: n + 1, edges: n });
  assert.equal(bound.outcome, "new");
});
