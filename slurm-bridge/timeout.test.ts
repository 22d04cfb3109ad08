// A TIMEOUT on the real Slurm end to end (slow: Slurm checks time limits about every
// 30 s, so a 1-minute limit ends after 66–86 s): runtime resource error, retried with the
// runtime scaled (1 min × (1 + 2) = 3 min), DONE.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "../bus/connect.ts";
import {
  slurmSkip,
  slurmWorkflow,
  startStackSlurmBridge,
  template,
} from "../test/helpers/slurm.ts";
import { startTestStack, type TestStack } from "../test/helpers/stack.ts";
import type { SlurmBridge } from "./bridge.ts";

describe("a task over its time limit on Slurm", { skip: slurmSkip, timeout: 600_000 }, () => {
  let stack: TestStack;
  let nc: NatsConnection;
  let bridge: SlurmBridge;
  let dir: string;

  before(async () => {
    stack = await startTestStack();
    dir = mkdtempSync(join(tmpdir(), "drover-slurm-timeout-"));
    ({ nc, bridge } = await startStackSlurmBridge(stack, "slurm-bridge-timeout", dir, {
      pollSeconds: 2,
      maxPollSeconds: 10,
    }));
  });
  after(async () => {
    await bridge?.stop();
    await nc?.drain();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("TIMEOUT at 1 min with runtime scale 2: runtime resource error, retried with 3 min, DONE", async () => {
    const t0 = Date.now();
    const sub = slurmWorkflow(
      "timeout",
      [
        template("slow", "sleep 100", {
          resources: { runtime_seconds: 60 },
          resource_scales: { runtime: 2 },
        }),
      ],
      [{ template: "slow", name: "slow", args: {}, upstream: [] }],
    );
    const end = await stack.run(sub, { timeoutMs: 480_000 });
    assert.equal(end.status, "DONE");
    const rows = await stack.sql<
      {
        id: number;
        status: string;
        error_kind: string | null;
        runtime_requested: number;
        error: string | null;
      }[]
    >`select id, status, error_kind, runtime_requested, error from task_instance
      where workflow_id = ${end.id} order by id`;
    assert.deepEqual(
      rows.map((r) => [r.status, r.error_kind, r.runtime_requested]),
      [
        ["RESOURCE_ERROR", "runtime", 60],
        ["DONE", null, 180],
      ],
    );
    assert.match(rows[0]!.error!, /TIMEOUT/);
    assert.equal(bridge.outcomes.get(rows[0]!.id)?.state, "TIMEOUT");
    const s = bridge.stats();
    assert.equal(s.sbatch_calls, 2);
    assert.ok(s.sacct_calls <= s.poll_cycles);
    console.log(
      `TIMEOUT then DONE: ${((Date.now() - t0) / 1000).toFixed(1)} s; sbatch ${s.sbatch_calls}, sacct ${s.sacct_calls} in ${s.poll_cycles} poll cycles (adaptive, 2–10 s)`,
    );
  });
});
