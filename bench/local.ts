import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { independent, runOnStack } from "./lifecycle.ts";
import { median, round3 } from "./stats.ts";

/**
 * `local --tasks 1000,20000 [--runs 3] [--slots N] [--memory cgroup|sampled|auto]`: the
 * local backend against the machine's limit, measured in the same run. The limit is
 * Node's `child_process.spawn` of `/bin/sh -c true`, N at a time (N = the slots); Drover's
 * figure is the run of that many independent `true` tasks on cluster `local` through
 * every function and the local bridge (bound → DONE). Each size is measured `runs` times,
 * the limit and Drover alternating; the medians, Drover's share of the limit, and the
 * rate at the largest size over the rate at the smallest (does it stay flat?).
 */
export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: "string", default: "1000,20000" },
      runs: { type: "string", default: "3" },
      slots: { type: "string", default: String(availableParallelism()) },
      memory: { type: "string", default: "cgroup" },
    },
  });
  const sizes = values.tasks.split(",").map(Number);
  const runs = Number(values.runs);
  const slots = Number(values.slots);
  if (!sizes.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new Error("--tasks must be a list of whole numbers ≥ 1, e.g. 1000,20000");
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a whole number ≥ 1");
  if (!Number.isInteger(slots) || slots < 1) throw new Error("--slots must be a whole number ≥ 1");
  if (!["cgroup", "sampled", "auto"].includes(values.memory)) {
    throw new Error("--memory must be cgroup, sampled or auto");
  }
  const results = [];
  for (const n of sizes) {
    const limit: number[] = [];
    const drover: number[] = [];
    for (let i = 0; i < runs; i++) {
      limit.push(await rawSpawnRate(n, slots));
      drover.push(await droverRate(n, slots, values.memory));
    }
    const limitMedian = median(limit);
    const droverMedian = median(drover);
    results.push({
      tasks: n,
      limit_tasks_per_second: { median: limitMedian, samples: limit },
      drover_tasks_per_second: { median: droverMedian, samples: drover },
      share_of_limit: round3(droverMedian / limitMedian),
    });
  }
  const first = results[0]!;
  const last = results[results.length - 1]!;
  return {
    bench: "local",
    slots,
    memory: values.memory,
    runs,
    results,
    largest_to_smallest: round3(
      last.drover_tasks_per_second.median / first.drover_tasks_per_second.median,
    ),
  };
}

/** `/bin/sh -c true`, `slots` at a time, `n` in all: processes per second. */
async function rawSpawnRate(n: number, slots: number): Promise<number> {
  const t0 = performance.now();
  let started = 0;
  const lane = async () => {
    while (started < n) {
      started++;
      await new Promise<void>((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", "true"], { stdio: "ignore", detached: true });
        child.once("error", reject);
        child.once("exit", () => resolve());
      });
    }
  };
  await Promise.all(Array.from({ length: slots }, lane));
  return Math.round(n / ((performance.now() - t0) / 1000));
}

/** `n` independent `true` tasks on `local` with `slots` slots: tasks per second, bound → DONE. */
async function droverRate(n: number, slots: number, memory: string): Promise<number> {
  const r = await runOnStack(independent(n, "local"), "local", {
    DROVER_LOCAL_SLOTS: String(slots),
    DROVER_LOCAL_MEMORY: memory,
  });
  try {
    if (r.status !== "DONE") throw new Error(`the workflow ended ${r.status}`);
    return Math.round(n / r.run);
  } finally {
    await r.stack.stop();
  }
}
