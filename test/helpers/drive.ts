// Drives workflows through the execution handlers with a fake context: what the bus
// would carry between schedule, launch, heartbeat and complete, pumped by hand.
import type { Sql } from "postgres";
import type { LaunchBatch, TaskQueued, TiDone, TiLaunched, TiRunning } from "../../bus/schemas.ts";
import { complete } from "../../functions/complete/handler.ts";
import { heartbeat } from "../../functions/heartbeat/handler.ts";
import { launch } from "../../functions/launch/handler.ts";
import { schedule } from "../../functions/schedule/handler.ts";
import { deliver, type FakeContext, fakeContext } from "./fake-context.ts";

/** Wakes schedule for the workflow, hands every task.queued to launch; returns the batches. */
export async function scheduleAndLaunch(
  sql: Sql,
  workflowId: number,
  ctx?: FakeContext,
): Promise<LaunchBatch[]> {
  const c = ctx ?? fakeContext(sql);
  await deliver(schedule, "sched.wake", { v: 1, workflow_id: workflowId }, c);
  for (const m of c.take<TaskQueued>("task.queued"))
    await deliver(launch, "task.queued", m.data, c);
  return c.take<LaunchBatch>((s) => s.startsWith("launch.")).map((m) => m.data);
}

export function launchedMsg(batch: LaunchBatch): TiLaunched {
  return {
    v: 1,
    cluster: batch.cluster,
    instances: batch.instances.map((i) => ({
      id: i.id,
      distributor_id: `${batch.batch_id}_${i.step}`,
      stdout: `/logs/${i.id}.out`,
      stderr: `/logs/${i.id}.err`,
    })),
  };
}

export function runningMsg(instanceIds: readonly number[]): TiRunning {
  return { v: 1, instances: instanceIds.map((id) => ({ id, node: "node-1" })) };
}

export function doneMsg(instanceIds: readonly number[]): TiDone {
  return {
    v: 1,
    results: instanceIds.map((id) => ({
      id,
      exit_code: 0,
      runtime_used: 1.5,
      memory_used: 1000,
      node: "node-1",
    })),
  };
}

/**
 * Runs the workflow to its end as a well-behaved bridge would: every batch launched,
 * running, done, and each sched.wake handed back to schedule. Returns the rounds taken.
 */
export async function runToEnd(
  sql: Sql,
  workflowId: number,
  ctx?: FakeContext,
  maxRounds = 100,
): Promise<number> {
  const c = ctx ?? fakeContext(sql);
  let batches = await scheduleAndLaunch(sql, workflowId, c);
  let rounds = 0;
  while (batches.length > 0) {
    if (++rounds > maxRounds) throw new Error("workflow did not end");
    for (const b of batches) {
      const ids = b.instances.map((i) => i.id);
      await deliver(heartbeat, "ti.launched", launchedMsg(b), c);
      await deliver(heartbeat, "ti.running", runningMsg(ids), c);
      await deliver(complete, "ti.done", doneMsg(ids), c);
    }
    c.take("sched.wake");
    batches = await scheduleAndLaunch(sql, workflowId, c);
  }
  return rounds;
}
