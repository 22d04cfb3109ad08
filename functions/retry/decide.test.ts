import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ErrorKind } from "../../bus/schemas.ts";
import type { ClusterCatalog } from "../../store/catalog.ts";
import { type DecidedTask, type Decision, decide, decideAll, queuesOf } from "./decide.ts";

const G = 1024 ** 3;
const H = 3600;

const queue = (id: number, name: string, memG: number | null, runtimeH: number | null) => ({
  id,
  name,
  max_cores: null,
  max_memory_bytes: memG === null ? null : memG * G,
  max_runtime_seconds: runtimeH === null ? null : runtimeH * H,
});
const all = queue(1, "all.q", 16, 24);
const long = queue(2, "long.q", 16, 96);
const big = queue(3, "big.q", 64, 24);
const otherLong = queue(9, "long.q", null, null);

const catalog: ClusterCatalog = new Map([
  // Listed first: a lookup by name alone would find its long.q.
  ["other", { id: 2, name: "other", kind: "slurm", queues: [otherLong] }],
  ["slurm", { id: 1, name: "slurm", kind: "slurm", queues: [all, long, big] }],
]);
const queues = queuesOf(catalog);

/** Second attempt of three, 2 GiB and 2 h on all.q of cluster 1, default scales. */
const task = (over: Partial<DecidedTask> = {}): DecidedTask => ({
  attempts: 1,
  max_attempts: 3,
  cluster_id: 1,
  queue_id: all.id,
  cores: 1,
  memory_bytes: 2 * G,
  runtime_seconds: 2 * H,
  resource_scales: null,
  fallback_queues: null,
  ...over,
});

const adjusted = (q: typeof all, memory_bytes: number, runtime_seconds: number): Decision => ({
  action: "adjust",
  queue: q,
  memory_bytes,
  runtime_seconds,
});

const cases: { name: string; task: DecidedTask; kind: ErrorKind; want: Decision }[] = [
  {
    name: "attempts used up: fatal, whatever the kind",
    task: task({ attempts: 3 }),
    kind: "memory",
    want: { action: "fatal" },
  },
  {
    name: "attempts past the maximum (lowered since): fatal",
    task: task({ attempts: 4 }),
    kind: "error",
    want: { action: "fatal" },
  },
  {
    name: "an error of the command: retried unchanged",
    task: task(),
    kind: "error",
    want: { action: "retry" },
  },
  {
    name: "a lost instance: retried unchanged",
    task: task(),
    kind: "lost",
    want: { action: "retry" },
  },
  {
    name: "a killed instance: retried unchanged",
    task: task(),
    kind: "killed",
    want: { action: "retry" },
  },
  {
    name: "memory error: only memory grows, by the default 50%",
    task: task(),
    kind: "memory",
    want: adjusted(all, 3 * G, 2 * H),
  },
  {
    name: "runtime error: only runtime grows, by the default 50%",
    task: task(),
    kind: "runtime",
    want: adjusted(all, 2 * G, 3 * H),
  },
  {
    name: "a factor of the task's own",
    task: task({ resource_scales: { memory: 1 } }),
    kind: "memory",
    want: adjusted(all, 4 * G, 2 * H),
  },
  {
    name: "a list: the value for this retry",
    task: task({ attempts: 2, resource_scales: { runtime: [4 * H, 8 * H, 12 * H] } }),
    kind: "runtime",
    want: adjusted(all, 2 * G, 8 * H),
  },
  {
    name: "a list: its last value once past its end",
    task: task({ attempts: 2, max_attempts: 9, resource_scales: { runtime: [4 * H] } }),
    kind: "runtime",
    want: adjusted(all, 2 * G, 4 * H),
  },
  {
    name: "outgrowing the queue: the first fallback that fits",
    task: task({ runtime_seconds: 20 * H, fallback_queues: ["big.q", "long.q"] }),
    kind: "runtime",
    want: adjusted(long, 2 * G, 30 * H),
  },
  {
    name: "no fallback fits: the last one, clamped to its limit",
    task: task({ memory_bytes: 50 * G, queue_id: big.id, fallback_queues: ["all.q", "long.q"] }),
    kind: "memory",
    want: adjusted(long, 16 * G, 2 * H),
  },
  {
    name: "no fallbacks: clamped to its own queue",
    task: task({ runtime_seconds: 20 * H }),
    kind: "runtime",
    want: adjusted(all, 2 * G, 24 * H),
  },
  {
    name: "fallbacks by name on the task's own cluster; unknown names skipped",
    task: task({ runtime_seconds: 20 * H, fallback_queues: ["gone.q", "long.q"] }),
    kind: "runtime",
    want: adjusted(long, 2 * G, 30 * H),
  },
  {
    name: "a request that fits stays on its queue, fallbacks notwithstanding",
    task: task({ fallback_queues: ["long.q"] }),
    kind: "runtime",
    want: adjusted(all, 2 * G, 3 * H),
  },
];

describe("decide", () => {
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(decide(c.task, c.kind, queues), c.want);
    });
  }

  test("a task on a queue the catalog does not hold is an error, not a guess", () => {
    assert.throws(() => decide(task({ queue_id: 77 }), "memory", queues), /queue 77/);
  });

  test("decideAll groups the decisions by what applying them takes", () => {
    const tasks = [
      { ...task({ attempts: 3 }), id: 10 },
      { ...task(), id: 11 },
      { ...task(), id: 12 },
      { ...task({ runtime_seconds: 20 * H, fallback_queues: ["long.q"] }), id: 13 },
    ];
    const kinds = new Map<number, ErrorKind>([
      [10, "error"],
      [11, "lost"],
      [12, "memory"],
      [13, "runtime"],
    ]);
    assert.deepEqual(decideAll(tasks, kinds, queues), {
      fatal: [10],
      again: [11],
      adjusted: [
        { id: 12, queue_id: all.id, memory_bytes: 3 * G, runtime_seconds: 2 * H },
        { id: 13, queue_id: long.id, memory_bytes: 2 * G, runtime_seconds: 30 * H },
      ],
    });
  });
});
