// COPY … FROM STDIN through CopyWriter, on the real Postgres: rows arrive, and a row that
// Postgres refuses fails the COPY (mid-stream or in the last chunk) instead of hanging.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type FreshDatabase, freshDatabase } from "../test/helpers/db.ts";
import { copyField, openCopy, textArrayLiteral } from "./copy.ts";

let db: FreshDatabase;
before(async () => {
  db = await freshDatabase();
});
after(async () => {
  await db.drop();
});

async function copyRows(rows: string[], chunk: number): Promise<number> {
  return db.sql.begin(async (tx) => {
    await tx`create temporary table t (a smallint not null, b text) on commit drop`;
    const writer = await openCopy(tx.unsafe("copy t (a, b) from stdin"));
    for (let i = 0; i < rows.length; i += chunk) {
      await writer.text(rows.slice(i, i + chunk).join(""), Math.min(chunk, rows.length - i));
    }
    await writer.row([-7, "tab\there \\ and\nnewline"]);
    await writer.end();
    const [row] = await tx<{ n: number }[]>`select count(*)::int as n from t`;
    const [odd] = await tx<{ b: string }[]>`select b from t where a = -7`;
    assert.equal(odd!.b, "tab\there \\ and\nnewline");
    return row!.n;
  });
}

const good = (n: number) => Array.from({ length: n }, (_, i) => `${i % 1000}\tx${i}\n`);

test("rows written as text and as fields all arrive", async () => {
  assert.equal(await copyRows(good(100_000), 30_000), 100_001);
});

test("a row Postgres refuses fails the COPY, in the last chunk or mid-stream", async () => {
  const last = [...good(1000), "40000\tsmallint out of range\n"];
  await assert.rejects(copyRows(last, 10_000), { code: "22003" });
  const middle = [...good(1000), "40000\tbad\n", ...good(200_000)];
  await assert.rejects(copyRows(middle, 10_000), { code: "22003" });
  // The pool is usable afterwards.
  const [row] = await db.sql<{ one: number }[]>`select 1 as one`;
  assert.equal(row!.one, 1);
});

test("abort: a COPY given up mid-stream lets the transaction roll back", async () => {
  await assert.rejects(
    db.sql.begin(async (tx) => {
      await tx`create temporary table t (a smallint) on commit drop`;
      const writer = await openCopy(tx.unsafe("copy t (a) from stdin"));
      writer.line("1\n");
      await writer.flush();
      const problem = new Error("a problem found while streaming");
      writer.abort(problem);
      throw problem;
    }),
    /a problem found while streaming/,
  );
  const [row] = await db.sql<{ one: number }[]>`select 1 as one`;
  assert.equal(row!.one, 1);
});

test("field encoding", () => {
  assert.equal(copyField(null), "\\N");
  assert.equal(copyField("a\\b\tc"), "a\\\\b\\tc");
  assert.equal(copyField(true), "t");
  assert.equal(textArrayLiteral(['a"b', "c\\d"]), '{"a\\"b","c\\\\d"}');
});
