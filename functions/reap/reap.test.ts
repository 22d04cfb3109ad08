// The reaper, deterministically: backdate the dates it looks at, then sweep directly.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Commands } from "../../client/commands.ts";
import { followWorkflow } from "../../client/follow.ts";
import { silentLogger } from "../../core/log.ts";
import { REAP_LOCK_KEY } from "../../store/reap.ts";
import type { Submission } from "../../submission/submission.ts";
import { startTestStack, type TestStack } from "../../test/helpers/stack.ts";
import { functionContext } from "../context.ts";
import { DEFAULT_BATCH_CAPS } from "../launch/batching.ts";
import { instantiate } from "../launch/handler.ts";
import { sweep } from "./handler.ts";

let stack: TestStack;

before(async () => {
  stack = await startTestStack({ slots: 4 });
});
after(async () => {
  await stack.stop();
});

/** The context the runtime gives the reaper's timer. */
function timerCtx() {
  return functionContext({ nc: stack.nc, sql: stack.sql, log: silentLogger });
}

async function until(cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const one = (
  name: string,
  command: string,
  extra: Partial<Submission["workflow"]> = {},
): Submission => ({
  tool: { name: "reap_test", version: "1" },
  workflow: { name, default_cluster: "local", default_max_attempts: 3, fail_fast: false, ...extra },
  templates: [{ name: "job", command, node_args: [], task_args: [], op_args: [] }],
  tasks: [{ template: "job", name: "job", args: {}, upstream: [] }],
});

describe("reap", { timeout: 90_000 }, () => {
  test("an instance whose bridge stopped reporting is found lost, killed and retried", async () => {
    // The first attempt hangs; later ones finish at once.
    const bound = await stack.submit(one("lost", `[ "$DROVER_ATTEMPT" -gt 1 ] || sleep 60`));
    await until(async () => {
      const [r] =
        await stack.sql`select status from task_instance where workflow_id = ${bound.workflow_id}`;
      return r?.status === "RUNNING";
    });
    assert.equal((await sweep(timerCtx())).lost, 0, "nothing is lost while it reports");
    // As if its bridge had died long ago: report-by in the past.
    await stack.sql`update task_instance set report_by = now() - interval '1 minute' where workflow_id = ${bound.workflow_id}`;
    const report = await sweep(timerCtx());
    assert.equal(report.lost, 1);
    const end = await followWorkflow(stack.nc, bound.workflow_id, { timeoutMs: 30_000 });
    assert.equal(end.status, "DONE");
    const rows = await stack.sql<{ status: string; error_kind: string | null }[]>`
      select status, error_kind from task_instance where workflow_id = ${bound.workflow_id} order by id`;
    assert.deepEqual(
      rows.map((r) => [r.status, r.error_kind]),
      [
        ["UNKNOWN_ERROR", "lost"],
        ["DONE", null],
      ],
    );
  });

  test("a workflow past its timeout is HALTED and its instances killed", async () => {
    const bound = await stack.submit(one("slowpoke", "sleep 60", { timeout_seconds: 3600 }));
    await until(async () => {
      const [r] =
        await stack.sql`select status from task_instance where workflow_id = ${bound.workflow_id}`;
      return r?.status === "RUNNING";
    });
    await stack.sql`update workflow_run set created_at = now() - interval '2 hours', released_at = now() - interval '2 hours' where workflow_id = ${bound.workflow_id}`;
    const report = await sweep(timerCtx());
    assert.deepEqual(report.timedOut, [bound.workflow_id]);
    const [wf] =
      await stack.sql`select status, error from workflow where id = ${bound.workflow_id}`;
    assert.equal(wf!.status, "HALTED");
    assert.match(wf!.error, /timeout of 3600 s/);
    const [inst] =
      await stack.sql`select status from task_instance where workflow_id = ${bound.workflow_id}`;
    assert.equal(inst!.status, "KILL_SELF");
  });

  test("work stuck between a commit and its message is sent again: a queued task, a launch batch", async () => {
    // Paused, so that only the sweep moves these tasks.
    const sub = one("stuck", "echo stuck {i}", { max_concurrently_running: 0 });
    sub.templates[0]!.node_args = ["i"];
    sub.tasks = [0, 1].map((i) => ({
      template: "job",
      name: `job_${i}`,
      args: { i: String(i) },
      upstream: [],
    }));
    const bound = await stack.submit(sub);
    const [queuedId, batchedId] = (
      await stack.sql<
        { id: number }[]
      >`select id from task where workflow_id = ${bound.workflow_id} order by id`
    ).map((r) => r.id) as [number, number];
    // Both scheduled by a schedule that died before publishing task.queued; the second
    // also instantiated by a launch that died after its commit, before the launch message.
    await stack.sql`update task set status = 'QUEUED' where id in ${stack.sql([queuedId, batchedId])}`;
    await instantiate({ sql: stack.sql, log: silentLogger }, bound.workflow_id, [batchedId], {
      caps: DEFAULT_BATCH_CAPS,
      heartbeatSeconds: 30,
      graceSeconds: 150,
    });
    assert.deepEqual(
      await sweep(timerCtx()),
      { swept: true, lost: 0, republished: 0, requeued: 0, timedOut: [] },
      "nothing is stuck yet",
    );
    await stack.sql`update task set status_at = now() - interval '5 minutes' where id = ${queuedId}`;
    await stack.sql`update launch_batch set created_at = now() - interval '5 minutes' where workflow_id = ${bound.workflow_id}`;
    const report = await sweep(timerCtx());
    assert.equal(report.requeued, 1);
    assert.equal(report.republished, 1);
    // Sent again to the bridge, they wait there while the workflow is paused: lifted.
    await new Commands(stack.nc).concurrency({ workflow_id: bound.workflow_id, limit: null });
    await until(async () => {
      const rows = await stack.sql<{ n: number }[]>`
        select count(*)::int as n from task_instance where workflow_id = ${bound.workflow_id} and status = 'DONE'`;
      return rows[0]!.n === 2;
    });
    const rows = await stack.sql<{ task_id: number; status: string }[]>`
      select task_id, status from task_instance where workflow_id = ${bound.workflow_id} order by task_id`;
    assert.deepEqual(
      [...rows],
      [
        { task_id: queuedId, status: "DONE" },
        { task_id: batchedId, status: "DONE" },
      ],
    );
    assert.equal((await sweep(timerCtx())).republished, 0, "a batch is sent again once");
  });

  test("one sweeper at a time: while another replica sweeps, a sweep backs off", async () => {
    const reserved = await stack.sql.reserve();
    try {
      await reserved`begin`;
      await reserved`select pg_advisory_xact_lock(${REAP_LOCK_KEY})`;
      assert.equal((await sweep(timerCtx())).swept, false);
      await reserved`commit`;
    } finally {
      reserved.release();
    }
    assert.equal((await sweep(timerCtx())).swept, true);
  });
});
