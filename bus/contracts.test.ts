// The contracts table: what it derives (streams, consumers, ids) is what deployments,
// bridges, the worker and documented backends rely on, so it is pinned here.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import { CommandService } from "./commands.ts";
import { type JetStreamContract, ownerOf } from "./contract.ts";
import { allStreams, Contracts } from "./contracts.ts";
import { encode, encodeFor } from "./publish.ts";
import { QueryService } from "./queries.ts";

describe("contracts", () => {
  test("streams: one per consuming function holding exactly its subjects, then the shared ones", () => {
    assert.deepEqual(
      allStreams().map((s) => [s.name, s.subjects.join(" "), s.keepMs ?? 0]),
      [
        ["DROVER_FN_BIND_DAG", "wf.submit.*", 0],
        ["DROVER_FN_SCHEDULE", "wf.bound sched.wake", 0],
        ["DROVER_FN_LAUNCH", "task.queued", 0],
        ["DROVER_FN_HEARTBEAT", "ti.*.launched ti.*.running ti.*.heartbeat", 0],
        ["DROVER_FN_COMPLETE", "ti.*.done", 0],
        ["DROVER_FN_RETRY", "ti.*.error", 0],
        ["DROVER_FN_REAP", "bridge.heartbeat.*.*", 0],
        ["DROVER_FN_REGISTER_QUEUES", "cluster.queues", 0],
        ["DROVER_DLQ", "dlq.>", 14 * 24 * 3600 * 1000],
      ],
    );
    assert.equal(Contracts.launch.durable?.("slurm"), "bridge-slurm");
    assert.equal(Contracts.kill.durable?.("slurm"), "bridge-slurm-ctl");
    assert.equal(Contracts.launch.personStream?.("alice"), "DROVER_LAUNCH_alice");
    assert.equal(Contracts.kill.personStream?.("alice"), "DROVER_CTL_alice");
  });

  test("a person's subject carries their token; the owner is read back from it", () => {
    const done = { v: 1 as const, results: [{ id: 3, exit_code: 0 }] };
    const m = encodeFor("a_2eb", Contracts.tiDone, done);
    assert.equal(m.subject, "ti.a_2eb.done");
    assert.equal(ownerOf(Contracts.tiDone, m.subject), "a_2eb");
    assert.throws(() => encode(Contracts.tiDone, done), /needs the owner's user token/);
    assert.throws(() => encodeFor("a.b", Contracts.tiDone, done), /needs the owner's user token/);
  });

  test("every JetStream message carries its version", () => {
    for (const c of Object.values(Contracts) as JetStreamContract[]) {
      const shape = (c.schema as z.ZodObject).shape as Record<string, z.ZodType>;
      assert.ok(shape["v"] instanceof z.ZodLiteral, `${c.subject} has a literal v`);
    }
  });

  test("request/reply subjects are as documented", () => {
    assert.deepEqual(
      Object.values(CommandService.endpoints).map((e) => e.subject),
      [
        "cmd.*.stop",
        "cmd.*.resume",
        "cmd.*.concurrency",
        "cmd.*.set-status",
        "cmd.*.task-attributes",
        "cmd.*.reset",
        "cmd.*.release",
      ],
    );
    assert.deepEqual(
      Object.values(QueryService.endpoints).map((e) => e.subject),
      [
        "query.*.workflow",
        "query.*.tasks",
        "query.*.task",
        "query.*.errors",
        "query.*.workflows",
        "query.*.dependencies",
        "query.*.resources",
        "query.*.logs",
        "query.*.environment",
      ],
    );
  });
});

describe("message ids", () => {
  const queued = (counts: number[]) =>
    encode(
      Contracts.taskQueued,
      { v: 1, workflow_id: 1, task_ids: [10, 11] },
      { queued_counts: counts },
    ).msgID;

  test("task.queued: distinct for every queueing of the same tasks, attempts notwithstanding", () => {
    const first = queued([1, 1]);
    const retry = queued([2, 1]);
    // A resume resets attempts to 0, never the queue count: ids differ from the first run's.
    const resumed = queued([3, 2]);
    assert.equal(new Set([first, retry, resumed]).size, 3);
    assert.equal(first, queued([1, 1]));
    assert.match(first!, /^queued-1-10-2-[0-9a-f]{16}$/);
  });

  test("addresses and ids come from the message and the key", () => {
    const batch = {
      v: 1 as const,
      batch_id: 7,
      workflow_id: 1,
      cluster: "slurm",
      queue: "all.q",
      resources: { cores: 1, memory_bytes: 1, runtime_seconds: 1 },
      heartbeat_seconds: 30,
      instances: [{ id: 3, task_id: 4, step: 0, attempt: 1, name: "t", command: "true" }],
    };
    const launch = encodeFor("alice", Contracts.launch, batch);
    assert.deepEqual([launch.subject, launch.msgID], ["launch.slurm.alice", "launch-7"]);
    const order = { v: 1 as const, instance_ids: [3], reason: "r" };
    const kill = encodeFor("alice", Contracts.kill, order, "slurm");
    assert.deepEqual([kill.subject, kill.msgID], ["ctl.slurm.alice.kill", undefined]);
    const wake = (cause: Parameters<NonNullable<typeof Contracts.schedWake.msgId>>[1]) =>
      encode(Contracts.schedWake, { v: 1, workflow_id: 5 }, cause).msgID;
    assert.match(wake({ after: "done", instance_ids: [3] })!, /^wake-done-5-[0-9a-f]{16}$/);
    assert.equal(wake({ more: { id: 9, queued_count: 2 } }), "wake-more-5-9-2");
    assert.equal(wake({ command: "cmd.*.resume" }), undefined, "every command wakes");
    const error = { v: 1 as const, results: [{ id: 3, kind: "lost" as const, message: "m" }] };
    assert.match(encodeFor("a", Contracts.tiError, error, "reap").msgID!, /^lost-[0-9a-f]{16}$/);
    assert.match(encodeFor("a", Contracts.tiError, error, "report").msgID!, /^error-[0-9a-f]{24}$/);
  });

  test("an invalid message is refused before it is published", () => {
    assert.throws(
      () => encode(Contracts.bound, { v: 1, workflow_id: 0, run_id: 1 }),
      /refusing to publish an invalid wf\.bound/,
    );
  });
});
