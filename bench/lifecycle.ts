import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { connectBus } from "../bus/connect.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import type { Submission } from "../spec/submission.ts";
import { benchStack, STDERR, seconds } from "./stack.ts";
import { stepTimes } from "./timeline.ts";

/**
 * `lifecycle --tasks N [--cluster dummy|local|sequential] [--memory MODE]`: N independent
 * tasks, from submit to DONE through every function (separate processes) and the local
 * bridge. Reports tasks/s overall and for the run alone (bound → DONE), and the time per
 * step. On `dummy` (the default) nothing runs; on `local` each task is a real `true`
 * process, held to its memory as `--memory` says (DROVER_LOCAL_MEMORY); `--memory
 * compare` runs it with cgroups and with sampling and gives their ratio.
 */
const CLUSTERS = ["dummy", "local", "sequential"] as const;
const MEMORY_MODES = ["auto", "cgroup", "sampled", "compare"] as const;

export function independent(n: number, cluster = "dummy"): Submission {
  return {
    tool: { name: "bench", version: "1" },
    workflow: {
      name: `lifecycle ${n}`,
      default_cluster: cluster,
      default_max_attempts: 3,
      fail_fast: false,
    },
    templates: [
      {
        name: "unit",
        // On dummy the command is only a word; elsewhere the cheapest real process.
        command: cluster === "dummy" ? "work {i}" : "true {i}",
        node_args: ["i"],
        task_args: [],
        op_args: [],
      },
    ],
    tasks: Array.from({ length: n }, (_, i) => ({
      template: "unit",
      name: `unit_${i}`,
      args: { i: String(i) },
      upstream: [],
    })),
  };
}

export async function runOnStack(
  sub: Submission,
  label: string,
  bridgeEnv: NodeJS.ProcessEnv = {},
) {
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
      stdio: ["ignore", STDERR, STDERR],
    });
    stack.processes.push(query);
    const bridge = spawn(
      process.execPath,
      ["--import", "tsx", "bridges/local/main.ts", "--clusters", sub.workflow.default_cluster],
      {
        env: { ...stack.env, ...bridgeEnv },
        stdio: ["ignore", STDERR, STDERR],
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
    options: {
      tasks: { type: "string", default: "100000" },
      cluster: { type: "string", default: "dummy" },
      memory: { type: "string", default: "auto" },
    },
  });
  const n = Number(values.tasks);
  if (!Number.isInteger(n) || n < 1) throw new Error("--tasks must be a whole number ≥ 1");
  const cluster = values.cluster as (typeof CLUSTERS)[number];
  if (!CLUSTERS.includes(cluster))
    throw new Error(`--cluster must be one of ${CLUSTERS.join(", ")}`);
  const memory = values.memory as (typeof MEMORY_MODES)[number];
  if (!MEMORY_MODES.includes(memory)) {
    throw new Error(`--memory must be one of ${MEMORY_MODES.join(", ")}`);
  }
  if (memory !== "compare") return once(n, cluster, memory);
  // Both in the same run, one after the other, so that their ratio means something.
  const cgroup = await once(n, cluster, "cgroup");
  const sampled = await once(n, cluster, "sampled");
  return {
    bench: "lifecycle",
    tasks: n,
    cluster,
    cgroup,
    sampled,
    ratio_cgroup_to_sampled: {
      tasks_per_second: round(
        cgroup.tasks_per_second.bound_to_done / sampled.tasks_per_second.bound_to_done,
      ),
    },
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

async function once(n: number, cluster: string, memory: string) {
  const r = await runOnStack(independent(n, cluster), "lifecycle", {
    DROVER_LOCAL_MEMORY: memory,
  });
  try {
    return {
      bench: "lifecycle",
      tasks: n,
      cluster,
      ...(cluster === "dummy" ? {} : { memory }),
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
