// A real deadlock on a real Postgres: the side Postgres aborts is run again and both
// transactions take effect exactly once; other errors are not retried.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type FreshDatabase, freshDatabase } from "../test/helpers/db.ts";
import { isRetryableConflict, retryConflicts } from "./conflicts.ts";

let db: FreshDatabase;

before(async () => {
  db = await freshDatabase();
  await db.sql`create table counters (id int primary key, n int not null)`;
  await db.sql`insert into counters values (1, 0), (2, 0)`;
});
after(async () => {
  await db.drop();
});

test("two transactions locking two rows in opposite orders: both done, once each", async () => {
  let tries = 0;
  let conflicts = 0;
  const bump = (first: number, second: number) =>
    retryConflicts(async () => {
      tries++;
      try {
        await db.sql.begin(async (tx) => {
          await tx`update counters set n = n + 1 where id = ${first}`;
          await tx`select pg_sleep(0.2)`;
          await tx`update counters set n = n + 1 where id = ${second}`;
        });
      } catch (err) {
        if (isRetryableConflict(err)) conflicts++;
        throw err;
      }
    });
  await Promise.all([bump(1, 2), bump(2, 1)]);
  assert.equal(conflicts, 1, "Postgres aborted one side of the deadlock");
  assert.equal(tries, 3);
  const rows = await db.sql<{ n: number }[]>`select n from counters order by id`;
  assert.deepEqual(
    rows.map((r) => r.n),
    [2, 2],
  );
});

test("an error that is not a conflict is thrown at once", async () => {
  let tries = 0;
  await assert.rejects(
    retryConflicts(async () => {
      tries++;
      await db.sql`insert into counters values (1, 0)`;
    }),
    /duplicate key/,
  );
  assert.equal(tries, 1);
});
