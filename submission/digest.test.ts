import assert from "node:assert/strict";
import { test } from "node:test";
import { DigestSet, FirstIndex, FNV_SEED, finish32, Hash128, mix32 } from "./digest.ts";

const h = new Hash128();
function digest(...parts: (string | number)[]): string {
  h.begin();
  for (const p of parts) typeof p === "string" ? h.string(p) : h.uint32(p);
  h.end();
  return [h.h1, h.h2, h.h3, h.h4].map((x) => (x >>> 0).toString(16)).join(".");
}

test("Hash128: a sequence is digested unambiguously, and the same way every time", () => {
  assert.equal(digest("abc", "d"), digest("abc", "d"));
  assert.notEqual(digest("ab", "c"), digest("a", "bc"));
  assert.notEqual(digest(""), digest());
  assert.notEqual(digest("", ""), digest(""));
  assert.notEqual(digest("x".repeat(1000)), digest("x".repeat(1001)));
  assert.notEqual(digest("a\u0000"), digest("a", ""));
  assert.notEqual(digest(1), digest(65536));
  assert.equal(digest("é😀"), digest("é😀"));
  // Longer than the scratch buffer: it grows.
  assert.equal(digest("y".repeat(5000), "z"), digest("y".repeat(5000), "z"));
});

test("DigestSet: adds, finds repeats, grows past its size", () => {
  const set = new DigestSet();
  for (let i = 0; i < 50_000; i++) assert.equal(set.add(h.begin().string(`k${i}`).end()), true);
  for (let i = 0; i < 50_000; i += 997) {
    assert.equal(set.add(h.begin().string(`k${i}`).end()), false);
  }
  assert.equal(set.add(h.begin().string("k").string("1").end()), true);
  assert.equal(set.size, 50_001);
});

test("FirstIndex: the first item with an equal key, compared exactly on equal hashes", () => {
  const keys = ["a", "b", "a", "c", "b", "a"];
  // A constant hash: every lookup must fall back to the comparison.
  const index = new FirstIndex(0, (i, j) => keys[i] === keys[j]);
  assert.deepEqual(
    keys.map((_, i) => index.addOrGet(i, 42)),
    [-1, -1, 0, -1, 1, 0],
  );
  const many = Array.from({ length: 30_000 }, (_, i) => `n${i % 20_000}`);
  const big = new FirstIndex(0, (i, j) => many[i] === many[j]);
  const firsts = many.map((k, i) => big.addOrGet(i, h.begin().string(k).end().h1));
  assert.equal(firsts.filter((f) => f < 0).length, 20_000);
  assert.equal(firsts[25_000], 5_000);
});

test("mix32: length-prefixed, so sequences hash apart", () => {
  const h = (...parts: string[]) => finish32(parts.reduce(mix32, FNV_SEED));
  assert.equal(h("ab", "c"), h("ab", "c"));
  assert.notEqual(h("ab", "c"), h("a", "bc"));
  assert.notEqual(h(""), h());
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) seen.add(h(`name_${i}`) & 0xffff);
  assert.ok(seen.size > 8_000, "low bits spread over the table");
});
