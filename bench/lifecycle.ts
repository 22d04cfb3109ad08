import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { Objm } from "@nats-io/obj";
import { connectBus, connectionToken, type NatsConnection } from "../bus/connect.ts";
import { openOwnBucket } from "../bus/objects.ts";
import { personStreams } from "../bus/person-streams.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import type { Submission } from "../submission/submission.ts";
import { benchStack, profileFlags, STDERR, seconds } from "./stack.ts";
import { round3 } from "./stats.ts";
import { stepTimes } from "./timeline.ts";

/**
 * `lifecycle --tasks N [--cluster dummy|local|sequential] [--memory MODE] [--replicas
 * 1,2,4]`: N independent tasks, from submit to DONE through every function (separate
 * processes) and the local bridge. Reports tasks/s overall and for the run alone (bound →
 * DONE), and the time per step. On `dummy` (the default) nothing runs; on `local` each
 * task is a real `true` process, held to its memory as `--memory` says
 * (DROVER_LOCAL_MEMORY); `--memory compare` runs it with cgroups and with sampling and
 * gives their ratio. `--replicas` runs the workflow once per count, with that many
 * processes each running every function, and gives each count's ratio to the first.
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

/** The user's DAG bucket exists (made by reap after the bridge's first heartbeat). */
async function waitForBucket(nc: NatsConnection, auth: boolean): Promise<void> {
  if (!auth) {
    await new Promise((r) => setTimeout(r, 1000)); // the bridge's consumer
    // Made before the clock starts, as on an authenticated NATS (where the service made
    // it): a bind's time is the bind's.
    await openOwnBucket(nc, personStreams(connectionToken(nc)).bucket);
    return;
  }
  const bucket = personStreams(connectionToken(nc)).bucket;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await new Objm(nc).open(bucket);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function runOnStack(
  sub: Submission,
  label: string,
  bridgeEnv: NodeJS.ProcessEnv = {},
  options: { auth?: boolean; replicas?: number } = {},
) {
  const stack = await benchStack(options);
  // On an authenticated NATS the bridge and the client are the user, not the functions.
  const asUser = stack.userCredentials ? { DROVER_CREDENTIALS: stack.userCredentials } : {};
  try {
    // Each replica a process of every function: their durable consumers are shared, so
    // N processes split each function's messages N ways. Reap makes, on an
    // authenticated NATS, the user's streams and bucket when it hears of their bridge.
    for (let r = 0; r < (options.replicas ?? 1); r++) {
      await stack.startFunctions([
        "bind-dag",
        "schedule",
        "launch",
        "heartbeat",
        "complete",
        "retry",
        "reap",
      ]);
    }
    // The query service (progress) is core NATS, not a consumer: nothing to wait for.
    const query = spawn(process.execPath, ["--import", "tsx", "functions/main.ts", "query"], {
      env: stack.env,
      stdio: ["ignore", STDERR, STDERR],
    });
    stack.processes.push(query);
    const bridge = spawn(
      process.execPath,
      [
        ...profileFlags(),
        "--import",
        "tsx",
        "local-bridge/main.ts",
        "--clusters",
        sub.workflow.default_cluster,
      ],
      {
        env: { ...stack.env, ...asUser, ...bridgeEnv },
        stdio: ["ignore", STDERR, STDERR],
      },
    );
    stack.processes.push(bridge);
    const nc = await connectBus(stack.nats.url, `bench-${label}`, {
      credentials: stack.userCredentials,
    });
    await waitForBucket(nc, stack.userCredentials !== undefined);
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
      replicas: { type: "string" },
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
  if (values.replicas !== undefined) {
    const counts = values.replicas.split(",").map(Number);
    if (counts.length === 0 || !counts.every((c) => Number.isInteger(c) && c >= 1)) {
      throw new Error("--replicas must be a list of whole numbers ≥ 1, e.g. 1,2,4");
    }
    return scaling(n, cluster, memory === "compare" ? "auto" : memory, counts);
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
      tasks_per_second: round3(
        cgroup.tasks_per_second.bound_to_done / sampled.tasks_per_second.bound_to_done,
      ),
    },
  };
}

/** The same workflow with each replica count in turn; ratios to the first count. */
async function scaling(n: number, cluster: string, memory: string, counts: number[]) {
  const runs = [];
  for (const replicas of counts)
    runs.push({ replicas, ...(await once(n, cluster, memory, replicas)) });
  const base = runs[0]!;
  return {
    bench: "lifecycle",
    tasks: n,
    cluster,
    runs: runs.map((r) => ({
      replicas: r.replicas,
      status: r.status,
      seconds: r.seconds,
      tasks_per_second: r.tasks_per_second,
      ratio_to_first: {
        bound_to_done: round3(
          r.tasks_per_second.bound_to_done / base.tasks_per_second.bound_to_done,
        ),
        submit_to_done: round3(
          r.tasks_per_second.submit_to_done / base.tasks_per_second.submit_to_done,
        ),
      },
      steps: r.steps,
    })),
  };
}

async function once(n: number, cluster: string, memory: string, replicas = 1) {
  const r = await runOnStack(
    independent(n, cluster),
    "lifecycle",
    { DROVER_LOCAL_MEMORY: memory },
    { replicas },
  );
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
