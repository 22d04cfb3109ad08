import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import type { ClusterQueues } from "../../bus/schemas.ts";
import { deliver, dispatchJson, startTestBus, type TestBus } from "../../test/helpers/bus.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { registerQueues } from "./handler.ts";

let db: FreshDatabase;
let sql: Sql;
let bus: TestBus;

before(async () => {
  db = await freshDatabase();
  sql = db.sql;
  bus = await startTestBus(sql);
});
after(async () => {
  await bus.stop();
  await db.drop();
});

async function queuesOf(cluster: string) {
  return sql<
    {
      name: string;
      max_cores: number | null;
      max_memory_bytes: number | null;
      max_runtime_seconds: number | null;
    }[]
  >`
    select q.name, q.max_cores, q.max_memory_bytes, q.max_runtime_seconds
    from queue q join cluster c on c.id = q.cluster_id
    where c.name = ${cluster} order by q.id`;
}

const msg = (queues: ClusterQueues["queues"], cluster = "slurm"): ClusterQueues => ({
  v: 1,
  cluster,
  kind: "slurm",
  queues,
});

describe("register-queues", () => {
  test("registers the partitions of the seeded slurm cluster, default first, idempotently", async () => {
    const ctx = bus.ctx;
    const m = msg([
      { name: "debug", max_cores: 8, max_memory_bytes: 2 ** 34, max_runtime_seconds: null },
      { name: "short", max_cores: 4, max_memory_bytes: 2 ** 33, max_runtime_seconds: 3600 },
    ]);
    await deliver(registerQueues, "cluster.queues", m, ctx);
    await deliver(registerQueues, "cluster.queues", m, ctx);
    assert.deepEqual(
      (await queuesOf("slurm")).map((q) => ({ ...q })),
      [
        {
          name: "debug",
          max_cores: 8,
          max_memory_bytes: 2 ** 34,
          max_runtime_seconds: null,
        },
        {
          name: "short",
          max_cores: 4,
          max_memory_bytes: 2 ** 33,
          max_runtime_seconds: 3600,
        },
      ],
    );
  });

  test("changed limits are updated, unlisted queues are kept, new ones added", async () => {
    const ctx = bus.ctx;
    await deliver(
      registerQueues,
      "cluster.queues",
      msg([
        { name: "short", max_cores: 2, max_memory_bytes: null, max_runtime_seconds: 1800 },
        { name: "gpu", max_cores: 16, max_memory_bytes: null, max_runtime_seconds: null },
      ]),
      ctx,
    );
    const rows = await queuesOf("slurm");
    assert.deepEqual(
      rows.map((q) => [q.name, q.max_cores, q.max_runtime_seconds]),
      [
        ["debug", 8, null],
        ["short", 2, 1800],
        ["gpu", 16, null],
      ],
    );
  });

  test("a new cluster is created with the message's kind; a local one is refused", async () => {
    const ctx = bus.ctx;
    await deliver(
      registerQueues,
      "cluster.queues",
      msg(
        [{ name: "batch", max_cores: null, max_memory_bytes: null, max_runtime_seconds: 600 }],
        "hpc2",
      ),
      ctx,
    );
    const [c] = await sql<{ kind: string }[]>`select kind from cluster where name = 'hpc2'`;
    assert.equal(c?.kind, "slurm");
    assert.deepEqual(
      (await queuesOf("hpc2")).map((q) => q.name),
      ["batch"],
    );
    // Refused for good: dead-lettered with the reason, never retried.
    assert.deepEqual(
      await dispatchJson(
        registerQueues,
        "cluster.queues",
        msg(
          [{ name: "x", max_cores: null, max_memory_bytes: null, max_runtime_seconds: null }],
          "local",
        ),
        ctx,
      ),
      {
        deadLetter: "cluster local is registered as local, not slurm: its queues are not replaced",
      },
    );
    assert.deepEqual(
      (await queuesOf("local")).map((q) => q.name),
      ["all.q", "long.q"],
    );
  });

  test("a queue or cluster name that could reach a job script as more than a name is refused", async () => {
    const ctx = bus.ctx;
    for (const [queue, cluster] of [
      ["debug\n#SBATCH --qos=high", "slurm"],
      ["ok", "slurm;rm"],
      ["a b", "slurm"],
    ]) {
      const outcome = await dispatchJson(
        registerQueues,
        "cluster.queues",
        msg(
          [{ name: queue!, max_cores: null, max_memory_bytes: null, max_runtime_seconds: null }],
          cluster,
        ),
        ctx,
      );
      assert.match(
        (outcome as { deadLetter?: string }).deadLetter ?? "",
        /is not allowed \(letters, digits/,
        JSON.stringify([queue, cluster]),
      );
    }
    const [{ n }] =
      (await sql`select count(*)::int as n from queue where name in ('debug\n#SBATCH --qos=high', 'a b')`) as unknown as [
        { n: number },
      ];
    assert.equal(n, 0);
  });
});
