// Failures end to end: the real functions, the local bridge, real commands.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Submission } from "../../submission/submission.ts";
import { startTestStack, type TestStack } from "../../test/helpers/stack.ts";

let stack: TestStack;
const scratch = mkdtempSync(join(tmpdir(), "drover-retry-"));

before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack.stop();
});

function workflow(
  name: string,
  templates: Submission["templates"],
  tasks: Submission["tasks"],
  cluster = "local",
): Submission {
  return {
    tool: { name: "retry_test", version: "1" },
    workflow: { name, default_cluster: cluster, default_max_attempts: 3, fail_fast: false },
    templates,
    tasks,
  };
}

const t = (
  name: string,
  command: string,
  extra: Partial<Submission["templates"][number]> = {},
) => ({
  name,
  command,
  node_args: [],
  task_args: [],
  op_args: [],
  ...extra,
});

async function instances(workflowId: number) {
  return stack.sql<
    {
      task: string;
      status: string;
      exit_code: number | null;
      error: string | null;
      error_kind: string | null;
      memory_requested: number;
      runtime_requested: number;
      queue: string;
    }[]
  >`select t.name as task, i.status, i.exit_code, i.error, i.error_kind, i.memory_requested,
           i.runtime_requested, q.name as queue
    from task_instance i join task t on t.id = i.task_id join queue q on q.id = t.queue_id
    where i.workflow_id = ${workflowId} order by t.name, i.id`;
}

describe("retries", { timeout: 120_000 }, () => {
  test("a task failing twice then succeeding is DONE on its third instance", async () => {
    const counter = join(scratch, "flaky");
    const sub = workflow(
      "flaky",
      [
        t(
          "flaky",
          `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; [ $n -ge 2 ] || { echo "attempt $n failed" >&2; exit 4; }`,
        ),
      ],
      [{ template: "flaky", name: "flaky", args: {}, upstream: [] }],
    );
    const end = await stack.run(sub);
    assert.equal(end.status, "DONE");
    const rows = await instances(end.id);
    assert.deepEqual(
      rows.map((r) => [r.status, r.exit_code]),
      [
        ["ERROR", 4],
        ["ERROR", 4],
        ["DONE", 0],
      ],
    );
    assert.match(rows[0]!.error!, /attempt 0 failed/);
    const [task] = await stack.sql`select attempts, status from task where workflow_id = ${end.id}`;
    assert.deepEqual({ ...task }, { attempts: 3, status: "DONE" });
  });

  test("a task that always fails: ERROR_FATAL with exit code and stderr tail, downstream never runs, other branches finish, FAILED", async () => {
    const sub = workflow(
      "doomed",
      [
        t("bad", "echo 'the input file is missing' >&2; exit 7"),
        t("after_bad", "echo should-not-run"),
        t("good", "echo {i}", { node_args: ["i"] }),
        t("after_good", "echo fine"),
      ],
      [
        { template: "bad", name: "bad", args: {}, upstream: [] },
        { template: "after_bad", name: "after_bad", args: {}, upstream: [0] },
        { template: "good", name: "good_i-1", args: { i: "1" }, upstream: [] },
        { template: "good", name: "good_i-2", args: { i: "2" }, upstream: [] },
        { template: "after_good", name: "after_good", args: {}, upstream: [2, 3] },
      ],
    );
    const end = await stack.run(sub);
    assert.equal(end.status, "FAILED");
    const tasks = await stack.sql<{ name: string; status: string; attempts: number }[]>`
      select name, status, attempts from task where workflow_id = ${end.id} order by name`;
    assert.deepEqual(
      tasks.map((r) => [r.name, r.status, r.attempts]),
      [
        ["after_bad", "REGISTERING", 0],
        ["after_good", "DONE", 1],
        ["bad", "ERROR_FATAL", 3],
        ["good_i-1", "DONE", 1],
        ["good_i-2", "DONE", 1],
      ],
    );
    const bad = (await instances(end.id)).filter((r) => r.task === "bad");
    assert.equal(bad.length, 3);
    assert.ok(bad.every((r) => r.status === "ERROR" && r.exit_code === 7));
    assert.match(bad[2]!.error!, /the input file is missing/);
    const [run] = await stack.sql`select status from workflow_run where workflow_id = ${end.id}`;
    assert.equal(run!.status, "ERROR");
  });

  test("over its memory: killed as a memory resource error, retried with memory × (1 + 4), DONE on attempt 2", async () => {
    const sub = workflow(
      "hungry",
      [
        t("hungry", `python3 -c "import time; x = b'x' * (300 * 1024 * 1024); time.sleep(1.5)"`, {
          resources: { memory_bytes: 100 * 1024 ** 2 },
          resource_scales: { memory: 4 },
        }),
      ],
      [{ template: "hungry", name: "hungry", args: {}, upstream: [] }],
    );
    const end = await stack.run(sub);
    assert.equal(end.status, "DONE");
    const rows = await instances(end.id);
    assert.equal(rows.length, 2);
    assert.equal(rows[0]!.status, "RESOURCE_ERROR");
    assert.equal(rows[0]!.error_kind, "memory");
    assert.equal(rows[0]!.memory_requested, 100 * 1024 ** 2);
    assert.equal(rows[1]!.status, "DONE");
    assert.equal(rows[1]!.memory_requested, 500 * 1024 ** 2);
    // Only memory grew.
    assert.equal(rows[1]!.runtime_requested, rows[0]!.runtime_requested);
  });

  test("over its runtime: a runtime resource error, retried with the next runtime of the list, DONE", async () => {
    const sub = workflow(
      "slow",
      [
        t("slow", "sleep 3", {
          resources: { runtime_seconds: 1 },
          resource_scales: { runtime: [20] },
        }),
      ],
      [{ template: "slow", name: "slow", args: {}, upstream: [] }],
    );
    const end = await stack.run(sub);
    assert.equal(end.status, "DONE");
    const rows = await instances(end.id);
    assert.deepEqual(
      rows.map((r) => [r.status, r.error_kind, r.runtime_requested]),
      [
        ["RESOURCE_ERROR", "runtime", 1],
        ["DONE", null, 20],
      ],
    );
  });

  test("a request that outgrows its queue moves to the fallback queue", async () => {
    const sub = workflow(
      "outgrown",
      [
        t("long", "@dummy:timeout", {
          resources: { runtime_seconds: 20 * 3600 },
          resource_scales: { runtime: 0.5 },
          fallback_queues: ["long.q"],
        }),
      ],
      [{ template: "long", name: "long", args: {}, upstream: [], max_attempts: 2 }],
      "dummy",
    );
    const end = await stack.run(sub);
    assert.equal(end.status, "FAILED");
    const rows = await stack.sql<{ queue: string; runtime: number; status: string }[]>`
      select q.name as queue, i.runtime_requested as runtime, i.status
      from task_instance i join task t on t.id = i.task_id join queue q on q.id = (
        select queue_id from task where id = t.id)
      where i.workflow_id = ${end.id} order by i.id`;
    assert.deepEqual(
      rows.map((r) => r.runtime),
      [20 * 3600, 30 * 3600],
    );
    const [task] =
      await stack.sql`select q.name from task t join queue q on q.id = t.queue_id where t.workflow_id = ${end.id}`;
    assert.equal(task!.name, "long.q");
  });
  test("a task's own scales, fallback queue and max_attempts are used on its retries; its sibling keeps the template's", async () => {
    const H = 3600;
    const sub = workflow(
      "own-settings",
      [
        t("slow", "@dummy:timeout {i}", {
          node_args: ["i"],
          resources: { runtime_seconds: 20 * H },
          max_attempts: 2,
        }),
      ],
      [
        { template: "slow", name: "shared", args: { i: "1" }, upstream: [] },
        {
          template: "slow",
          name: "own",
          args: { i: "2" },
          upstream: [],
          resource_scales: { runtime: [40 * H, 60 * H] },
          fallback_queues: ["long.q"],
          max_attempts: 3,
        },
      ],
      "dummy",
    );
    const end = await stack.run(sub);
    assert.equal(end.status, "FAILED");
    const rows = await stack.sql<{ task: string; runtime: number; queue: string }[]>`
      select t.name as task, i.runtime_requested as runtime, q.name as queue
      from task_instance i join task t on t.id = i.task_id
      join launch_batch b on b.id = i.batch_id join queue q on q.id = b.queue_id
      where i.workflow_id = ${end.id} order by t.name, i.id`;
    assert.deepEqual(
      rows.map((r) => [r.task, r.runtime / H, r.queue]),
      [
        // Its list of runtimes, moving to its own fallback queue; three attempts.
        ["own", 20, "all.q"],
        ["own", 40, "long.q"],
        ["own", 60, "long.q"],
        // The default +50% outgrows all.q, which it may not leave: clamped to its 24 h;
        // the template's two attempts.
        ["shared", 20, "all.q"],
        ["shared", 24, "all.q"],
      ],
    );
  });
});
