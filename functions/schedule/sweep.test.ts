// Two schedule replicas sweeping the same workflows at once, each with its own pool.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Sql, TransactionSql } from "postgres";
import type { TaskQueued } from "../../bus/schemas.ts";
import { createSql } from "../../store/connect.ts";
import { type Recording, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { type Fixture, insertWorkflow, shapes } from "../../test/helpers/workflow-fixture.ts";
import { sweep } from "./handler.ts";
import { DEFAULT_SCHEDULE_OPTIONS } from "./schedule.ts";

let db: FreshDatabase;
let poolA: Sql;
let poolB: Sql;
let bus: TestBus;

before(async () => {
  db = await freshDatabase();
  poolA = createSql(db.url, { max: 2, application: "schedule-a" });
  poolB = createSql(db.url, { max: 2, application: "schedule-b" });
  bus = await startTestBus(db.sql);
});
after(async () => {
  await bus.stop();
  await Promise.all([poolA.end(), poolB.end()]);
  await db.drop();
});

/**
 * `sql` whose first transaction, its work done, waits to commit until `release` resolves
 * or `ms` pass: a replica caught in the middle of a round. `holding` resolves when it
 * starts waiting; `timedOut` says how the wait ended.
 */
function holdingFirstRound(sql: Sql, release: Promise<void>, ms: number) {
  const held = { timedOut: false };
  let first = true;
  let holdingNow!: () => void;
  const holding = new Promise<void>((resolve) => {
    holdingNow = resolve;
  });
  const wrapped = new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop !== "begin") return Reflect.get(target, prop, receiver);
      return (fn: (tx: TransactionSql) => Promise<unknown>) =>
        target.begin(async (tx) => {
          const result = await fn(tx);
          if (first) {
            first = false;
            holdingNow();
            held.timedOut = await Promise.race([
              release.then(() => false),
              delay(ms).then(() => true),
            ]);
          }
          return result;
        });
    },
  });
  return { sql: wrapped, held, holding };
}

const LIMIT = 5;
const A_LIMIT = 3;

test("two replicas sweeping at once both make progress, never queue a task twice, never exceed a limit together", async () => {
  const sql = db.sql;
  const workflows: Fixture[] = [];
  for (let i = 0; i < 4; i++) {
    workflows.push(
      await insertWorkflow(sql, {
        tasks: [...shapes.flat(12, "a"), ...shapes.flat(12, "b")],
        maxConcurrentlyRunning: LIMIT,
        templateLimits: { a: A_LIMIT },
      }),
    );
  }
  const ids = workflows.map((f) => f.workflowId);
  const aArrays = workflows.map((f) => f.arrayIds["a"]!);
  const published = new Map<number, number>();
  const wire: Recording = await bus.record();

  // Sweep pairs until every task ran; tasks queued by one pair are DONE before the next.
  for (let pass = 0; ; pass++) {
    const a = { ...bus.ctx };
    const b = { ...bus.ctx };
    let byA: number;
    let byB: number;
    if (pass === 0) {
      // Replica A is held inside its first round (the first workflow, its row locked)
      // until B has queued something: B must go past that workflow, not wait behind it.
      let releaseA!: () => void;
      const bQueued = new Promise<void>((resolve) => {
        releaseA = resolve;
      });
      const hold = holdingFirstRound(poolA, bQueued, 5_000);
      const bPublish = b.publish;
      b.publish = (async (...args: Parameters<typeof bPublish>) => {
        await bPublish(...args);
        releaseA();
      }) as typeof bPublish;
      const sweepA = sweep({ ...a, sql: hold.sql }, DEFAULT_SCHEDULE_OPTIONS);
      await hold.holding;
      [byA, byB] = await Promise.all([
        sweepA,
        sweep({ ...b, sql: poolB }, DEFAULT_SCHEDULE_OPTIONS),
      ]);
      assert.equal(hold.held.timedOut, false, "B queued while A held a workflow");
      assert.ok(byA > 0 && byB > 0, `both replicas queued (A ${byA}, B ${byB})`);
    } else {
      [byA, byB] = await Promise.all([
        sweep({ ...a, sql: poolA }, DEFAULT_SCHEDULE_OPTIONS),
        sweep({ ...b, sql: poolB }, DEFAULT_SCHEDULE_OPTIONS),
      ]);
    }
    for (const m of await wire.take<TaskQueued>("task.queued")) {
      for (const id of m.data.task_ids) published.set(id, (published.get(id) ?? 0) + 1);
    }

    // Limits, together: what is active now was queued by this pair (all else is DONE).
    const active = await sql<{ workflow_id: number; n: number; a: number }[]>`
      select workflow_id, count(*)::int as n,
        (count(*) filter (where array_id = any(${aArrays}::bigint[])))::int as a
      from task
      where workflow_id = any(${ids}::bigint[]) and status = 'QUEUED'
      group by workflow_id order by workflow_id`;
    if (active.length === 0) break;
    assert.equal(
      byA + byB,
      active.reduce((n, r) => n + r.n, 0),
    );
    // Every workflow filled to its limits (none skipped by both replicas), never past
    // them: 3 of a and 2 of b while a lasts (12 tasks each), then the last 4 of b.
    const want = pass < 4 ? { n: LIMIT, a: A_LIMIT } : { n: 4, a: 0 };
    assert.deepEqual(
      active.map((r) => ({ n: r.n, a: r.a })),
      ids.map(() => want),
      `pass ${pass}`,
    );
    await sql`update task set status = 'DONE' where workflow_id = any(${ids}::bigint[]) and status = 'QUEUED'`;
    assert.ok(pass < 20, "the sweeps ran every task");
  }

  // Every task queued exactly once: by its audit rows and by the messages.
  const audit = await sql<{ task_id: number; n: number }[]>`
    select t.id as task_id, count(q.task_id)::int as n
    from task t left join task_status_audit q on q.task_id = t.id and q.status = 'QUEUED'
    where t.workflow_id = any(${ids}::bigint[])
    group by t.id`;
  assert.equal(audit.length, 4 * 24);
  assert.deepEqual(
    audit.filter((r) => r.n !== 1),
    [],
  );
  assert.equal(published.size, 4 * 24);
  assert.deepEqual(
    [...published].filter(([, n]) => n !== 1),
    [],
  );
});
