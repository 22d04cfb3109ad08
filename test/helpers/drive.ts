// Drives workflows through the execution handlers on a test bus: what the bus carries
// between schedule, launch, heartbeat and complete, taken off the wire and dispatched by
// hand (no consumer runs, so each step happens when the test says).
import type { LaunchBatch, TaskQueued, TiDone, TiLaunched, TiRunning } from "../../bus/schemas.ts";
import { complete } from "../../functions/complete/handler.ts";
import { heartbeat } from "../../functions/heartbeat/handler.ts";
import { launch } from "../../functions/launch/handler.ts";
import { schedule } from "../../functions/schedule/handler.ts";
import { deliver, type TestBus } from "./bus.ts";

/** Wakes schedule for the workflow, hands every task.queued to launch; returns the batches. */
export async function scheduleAndLaunch(bus: TestBus, workflowId: number): Promise<LaunchBatch[]> {
  const wire = await bus.record();
  try {
    await deliver(schedule, "sched.wake", { v: 1, workflow_id: workflowId }, bus.ctx);
    for (const m of await wire.take<TaskQueued>("task.queued"))
      await deliver(launch, "task.queued", m.data, bus.ctx);
    return (await wire.take<LaunchBatch>((s) => s.startsWith("launch."))).map((m) => m.data);
  } finally {
    wire.stop();
  }
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
export async function runToEnd(bus: TestBus, workflowId: number, maxRounds = 100): Promise<number> {
  let batches = await scheduleAndLaunch(bus, workflowId);
  let rounds = 0;
  while (batches.length > 0) {
    if (++rounds > maxRounds) throw new Error("workflow did not end");
    for (const b of batches) {
      const ids = b.instances.map((i) => i.id);
      await deliver(heartbeat, "ti.launched", launchedMsg(b), bus.ctx);
      await deliver(heartbeat, "ti.running", runningMsg(ids), bus.ctx);
      await deliver(complete, "ti.done", doneMsg(ids), bus.ctx);
    }
    // The sched.wake messages complete published are what this next call stands for.
    batches = await scheduleAndLaunch(bus, workflowId);
  }
  return rounds;
}
