import { execFile, spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { PACKAGE, pythonCandidates } from "../clients/python/venv.ts";
import { benchStack } from "./stack.ts";
import { median, round3 } from "./stats.ts";

const ROOT = resolve(import.meta.dirname, "..");

/**
 * `python --tasks N [--repeat R]`: the same workflow (sqrt(N) prep tasks, N model tasks,
 * each model depending on its location's prep) built a task at a time and bound, from
 * a Python script (the Python client: spec → `drover submit - --hold`) and from a
 * TypeScript script (the TypeScript client over NATS), each a process of its own, timed
 * from its start to its exit once bound. Runs alternate; medians of R runs each, and
 * Python's time over TypeScript's.
 */
export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: "string", default: "100000" },
      repeat: { type: "string", default: "3" },
    },
  });
  const side = Math.round(Math.sqrt(Number(values.tasks)));
  const repeat = Number(values.repeat);
  if (!(side >= 2 && Number.isInteger(repeat) && repeat >= 1))
    throw new Error("--tasks must be ≥ 4 and --repeat a whole number ≥ 1");
  const python = await findPython();
  const stack = await benchStack();
  try {
    await stack.startFunctions(["bind-dag"]);
    const env = {
      ...stack.env,
      DROVER_CLI: `${process.execPath} ${join(ROOT, "bin/drover.mjs")}`,
      PYTHONPATH: PACKAGE,
      PYTHONDONTWRITEBYTECODE: "1",
    };
    const runs: Record<"python" | "typescript", Timed[]> = { python: [], typescript: [] };
    for (let i = 0; i < repeat; i++) {
      runs.typescript.push(
        await timed(
          process.execPath,
          ["--import", "tsx", "bench/client-bind.ts", String(side)],
          env,
        ),
      );
      runs.python.push(await timed(python, ["bench/client_bind.py", String(side)], env));
    }
    const [row] = await stack.db.sql<{ tasks: number }[]>`
      select count(*)::int as tasks from task where workflow_id = ${runs.python[0]!.report.id}`;
    const py = summarize(runs.python);
    const ts = summarize(runs.typescript);
    return {
      bench: "python",
      tasks: row!.tasks,
      python: { interpreter: python, ...py },
      typescript: ts,
      ratio_python_to_typescript: Math.round((py.seconds / ts.seconds) * 100) / 100,
    };
  } finally {
    await stack.stop();
  }
}

interface Timed {
  seconds: number;
  report: { id: number; tasks: number; build: number; bind: number };
}

async function timed(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const t0 = process.hrtime.bigint();
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${code}: ${out}`);
  return { seconds, report: JSON.parse(out.trim().split("\n").at(-1)!) as Timed["report"] };
}

/** Medians of the start-to-bound wall time and of the parts the script measured. */
function summarize(runs: Timed[]) {
  return {
    seconds: round3(median(runs.map((r) => r.seconds))),
    build: round3(median(runs.map((r) => r.report.build))),
    bind: round3(median(runs.map((r) => r.report.bind))),
    runs: runs.map((r) => round3(r.seconds)),
  };
}

/** The first interpreter that is Python ≥ 3.9 (the package runs from the checkout). */
async function findPython(): Promise<string> {
  for (const python of pythonCandidates()) {
    try {
      await promisify(execFile)(python, ["-c", "import sys; assert sys.version_info >= (3, 9)"]);
      return python;
    } catch {}
  }
  throw new Error(`no Python ≥ 3.9 among ${pythonCandidates().join(", ")} (set DROVER_PYTHON)`);
}
