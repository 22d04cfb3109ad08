// A connection whose server side goes away (a Postgres restart, a terminated backend)
// must fail the queries on it, never the process: postgres.js 3.4.9 threw from a timer
// on the closed socket (scripts/patch-deps.mjs). Runs the deterministic case: a reserved
// connection whose backend is terminated, then used.
import assert from "node:assert/strict";
import { test } from "node:test";
import { freshDatabase } from "../test/helpers/db.ts";
import { createSql } from "./connect.ts";

test("queries on a connection whose backend died are rejected; the pool recovers", async () => {
  const db = await freshDatabase();
  const sql = createSql(db.url, { max: 2 });
  try {
    const reserved = await sql.reserve();
    const [me] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await db.sql`select pg_terminate_backend(${me!.pid})`;
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 3; i++) {
      await assert.rejects(reserved`select 1`, /CONNECTION_CLOSED|terminat/);
    }
    reserved.release();
    // The pool replaces the dead connection: within a few tries, queries answer again.
    let answered = false;
    for (let i = 0; i < 5 && !answered; i++) {
      answered = await sql`select 1 as one`.then(
        () => true,
        () => false,
      );
    }
    assert.ok(answered, "the pool answers again");
  } finally {
    await sql.end({ timeout: 1 });
    await db.drop();
  }
});
