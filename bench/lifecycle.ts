import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { connectBus } from "../bus/connect.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import type { Submission } from "../spec/submission.ts";
import { benchStack, seconds } from "./stack.ts";
import { stepTimes } from "./timeline.ts";

/**
 * `lifecycle --tasks N`: N independent tasks on the `dummy` cluster, from submit to
 * DONE through every function (separate processes) and the local bridge. Reports
 * tasks/s overall and for the run alone (bound → DONE), and the time per step.
 */
export function independent(n: number): Submission {
  return {
    tool: { name: "bench", version: "1" },
    workflow: {
      name: `lifecycle ${n}`,
      default_cluster: "dummy",
      default_max_attempts: 3,
      fail_fast: false,
    },
    templates: [
      { name: "unit", command: "work {i}", node_args: ["i"], task_args: [], op_args: [] },
    ],
    tasks: Array.from({ length: n }, (_, i) => ({
      template: "unit",
      name: `unit_${i}`,
      args: { i: String(i) },
      upstream: [],
    })),
  };
}

export async function runOnStack(sub: Submission, label: string) {
  const stack = await benchStack();
  try {
    await stack.startFunctions([
      "bind-dag",
      "schedule",
      "launch",
      "heartbeat",
      "complete",
      "retry",
    ]);
    // The query service (progress) is core NATS, not a consumer: nothing to wait for.
    const query = spawn(process.execPath, ["--import", "tsx", "functions/main.ts", "query"], {
      env: stack.env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    stack.processes.push(query);
    const bridge = spawn(
      process.execPath,
      ["--import", "tsx", "bridges/local/main.ts", "--clusters", "dummy"],
      {
        env: stack.env,
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    stack.processes.push(bridge);
    const nc = await connectBus(stack.nats.url, `bench-${label}`);
    await new Promise((r) => setTimeout(r, 1000)); // the bridge's consumer
    const t0 = process.hrtime.bigint();
    const bound = await submitWorkflow(nc, sub);
    const bind = seconds(t0);
    const t1 = process.hrtime.bigint();
    const end = await followWorkflow(nc, bound.workflow_id, { timeoutMs: 30 * 60_000 });
    const run = seconds(t1);
    const total = seconds(t0);
    const steps = await stepTimes(stack.db.sql, bound.workflow_id);
    await nc.close();
    return {
      workflowId: bound.workflow_id,
      status: end.status,
      bind,
      run,
      total,
      steps,
      sql: stack.db.sql,
      stack,
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { tasks: { type: "string", default: "100000" } },
  });
  const n = Number(values.tasks);
  if (!Number.isInteger(n) || n < 1) throw new Error("--tasks must be a whole number ≥ 1");
  const r = await runOnStack(independent(n), "lifecycle");
  try {
    return {
      bench: "lifecycle",
      tasks: n,
      status: r.status,
      seconds: { submit_to_bound: r.bind, bound_to_done: r.run, submit_to_done: r.total },
      tasks_per_second: {
        submit_to_done: Math.round(n / r.total),
        bound_to_done: Math.round(n / r.run),
      },
      steps: r.steps,
    };
  } finally {
    await r.stack.stop();
  }
}
