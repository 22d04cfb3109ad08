import assert from "node:assert/strict";
import { test } from "node:test";
import { adjust, type QueueLimits, scaled } from "./scale.ts";

const q = (id: number, name: string, mem: number | null, runtime: number | null): QueueLimits => ({
  id,
  name,
  max_cores: null,
  max_memory_bytes: mem,
  max_runtime_seconds: runtime,
});
const G = 1024 ** 3;

test("a factor is cumulative and rounds up: 40G → 60G → 90G with 0.5", () => {
  assert.equal(scaled(40 * G, 0.5, 1), 60 * G);
  assert.equal(scaled(60 * G, 0.5, 2), 90 * G);
  assert.equal(scaled(3, 0.5, 1), 5);
});

test("a list gives the value of each retry, the last one repeating", () => {
  assert.equal(scaled(100, [3600, 7200], 1), 3600);
  assert.equal(scaled(3600, [3600, 7200], 2), 7200);
  assert.equal(scaled(7200, [3600, 7200], 5), 7200);
});

test("only the exceeded resource grows", () => {
  const all = q(1, "all.q", 100 * G, 86400);
  const next = adjust(
    { memory_bytes: 2 * G, runtime_seconds: 600, cores: 1, queue: all },
    "memory",
    null,
    1,
    [],
  );
  assert.deepEqual([next.memory_bytes, next.runtime_seconds], [3 * G, 600]);
  const later = adjust(
    { memory_bytes: 2 * G, runtime_seconds: 600, cores: 1, queue: all },
    "runtime",
    null,
    1,
    [],
  );
  assert.deepEqual([later.memory_bytes, later.runtime_seconds], [2 * G, 900]);
});

test("outgrowing the queue moves to the first fallback that fits; none fits: the last, clamped", () => {
  const all = q(1, "all.q", 10 * G, 3600);
  const mid = q(2, "mid.q", 10 * G, 5000);
  const long = q(3, "long.q", 10 * G, 86400);
  const moved = adjust(
    { memory_bytes: G, runtime_seconds: 3600, cores: 1, queue: all },
    "runtime",
    null,
    1,
    [mid, long],
  );
  assert.equal(moved.queue.name, "long.q");
  assert.equal(moved.runtime_seconds, 5400);
  const clamped = adjust(
    { memory_bytes: 8 * G, runtime_seconds: 60, cores: 1, queue: all },
    "memory",
    { memory: 1 },
    1,
    [mid, long],
  );
  assert.equal(clamped.queue.name, "long.q");
  assert.equal(clamped.memory_bytes, 10 * G);
});

test("a runtime growing without a queue limit stops at the largest storable one", () => {
  const unlimited = q(1, "open.q", null, null);
  let r = { memory_bytes: G, runtime_seconds: 86400 * 365, cores: 1, queue: unlimited };
  for (let retry = 1; retry <= 20; retry++) r = adjust(r, "runtime", { runtime: 9 }, retry, []);
  assert.equal(r.runtime_seconds, 2_147_483_647);
});

test("memory by a list of GiB past 4 GiB: each retry takes its amount, in bytes, as one queue allows", () => {
  const T = 1024 ** 4;
  const all = q(1, "all.q", T, 86400);
  const scales = { memory: [4 * G, 8 * G, 64 * G, 512 * G] };
  let r = { memory_bytes: 2 * G, runtime_seconds: 600, cores: 256, queue: all };
  const seen: number[] = [];
  for (let retry = 1; retry <= 5; retry++) {
    r = adjust(r, "memory", scales, retry, []);
    seen.push(r.memory_bytes);
  }
  assert.deepEqual(seen, [4 * G, 8 * G, 64 * G, 512 * G, 512 * G]);
  assert.deepEqual([r.runtime_seconds, r.cores, r.queue.name], [600, 256, "all.q"]);
  // A factor past 1 TiB: to the fallback queue that holds it, else clamped to the last one.
  const huge = q(2, "huge.q", 4 * T, 30 * 86400);
  const grown = adjust({ ...r, memory_bytes: T }, "memory", { memory: 1 }, 1, [huge]);
  assert.deepEqual([grown.memory_bytes, grown.queue.name], [2 * T, "huge.q"]);
  const clamped = adjust({ ...grown }, "memory", { memory: 3 }, 2, [huge]);
  assert.deepEqual([clamped.memory_bytes, clamped.queue.name], [4 * T, "huge.q"]);
});
