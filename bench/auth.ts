import { parseArgs } from "node:util";
import { independent, runOnStack } from "./lifecycle.ts";
import { median, round3 } from "./stats.ts";

/**
 * `auth --tasks N --runs R`: what authentication costs. The lifecycle of N independent
 * tasks on `dummy` (bind, then run) on a NATS without authentication and on one that
 * authenticates every connection with its permissions (functions, the user's bridge and
 * client), alternating, R times each; medians and their ratio (authenticated / open).
 */
export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: "string", default: "100000" },
      runs: { type: "string", default: "3" },
    },
  });
  const n = Number(values.tasks);
  const runs = Number(values.runs);
  if (!Number.isInteger(n) || n < 1) throw new Error("--tasks must be a whole number ≥ 1");
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a whole number ≥ 1");
  const samples = { open: [] as Sample[], auth: [] as Sample[] };
  for (let i = 0; i < runs; i++) {
    for (const mode of ["open", "auth"] as const) samples[mode].push(await once(n, mode));
  }
  const summary = (s: Sample[]) => ({
    bind_tasks_per_second: median(s.map((x) => x.bind)),
    run_tasks_per_second: median(s.map((x) => x.run)),
  });
  const open = summary(samples.open);
  const auth = summary(samples.auth);
  const ratio = (a: number, b: number) => round3(a / b);
  return {
    bench: "auth",
    tasks: n,
    runs,
    open,
    auth,
    ratio_auth_to_open: {
      bind: ratio(auth.bind_tasks_per_second, open.bind_tasks_per_second),
      run: ratio(auth.run_tasks_per_second, open.run_tasks_per_second),
    },
    samples,
  };
}

interface Sample {
  bind: number;
  run: number;
}

async function once(n: number, mode: "open" | "auth"): Promise<Sample> {
  const r = await runOnStack(independent(n), `auth-${mode}`, {}, { auth: mode === "auth" });
  try {
    if (r.status !== "DONE") throw new Error(`${mode}: the workflow ended ${r.status}`);
    return { bind: Math.round(n / r.bind), run: Math.round(n / r.run) };
  } finally {
    await r.stack.stop();
  }
}
