// The reaper, deterministically: backdate the dates it looks at, then sweep directly.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { createPublisher } from "../../bus/publish.ts";
import { followWorkflow } from "../../client/follow.ts";
import { silentLogger } from "../../core/log.ts";
import type { Submission } from "../../spec/submission.ts";
import { startTestStack, type TestStack } from "../../test/helpers/stack.ts";
import { sweep } from "./handler.ts";
import { REAP_LOCK_KEY } from "./sql.ts";

let stack: TestStack;

before(async () => {
  stack = await startTestStack({ slots: 4 });
});
after(async () => {
  await stack.stop();
});

function timerCtx() {
  const publisher = createPublisher(stack.nc, jetstream(stack.nc));
  return {
    sql: stack.sql,
    nc: stack.nc,
    js: jetstream(stack.nc),
    log: silentLogger,
    publish: publisher.publish,
    emit: publisher.emit,
    signal: new AbortController().signal,
  };
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
    await stack.sql`update workflow_run set created_at = now() - interval '2 hours' where workflow_id = ${bound.workflow_id}`;
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
