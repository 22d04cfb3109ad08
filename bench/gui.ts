import { parseArgs } from "node:util";
import { connectBus } from "../bus/connect.ts";
import { submitWorkflow } from "../client/submit.ts";
import { silentLogger } from "../core/log.ts";
import { startGui } from "../gui/server.ts";
import { locationYearWorkflow } from "./bind.ts";
import { benchStack } from "./stack.ts";

/**
 * `gui --tasks N`: the bind benchmark's workflow (N model tasks, one prep per location),
 * bound, then each JSON endpoint behind the workflow pages asked `--repeat` times (the
 * first answer of a workflow's DAG is not cached). Reports the median ms per endpoint.
 */
export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: "string", default: "1000000" },
      repeat: { type: "string", default: "5" },
    },
  });
  const target = Number(values.tasks);
  const repeat = Number(values.repeat);
  if (!Number.isInteger(target) || target < 4)
    throw new Error("--tasks must be a whole number ≥ 4");
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new Error("--repeat must be a whole number ≥ 1");
  const stack = await benchStack();
  try {
    await stack.startFunctions(["bind-dag"]);
    const nc = await connectBus(stack.nats.url, "bench-gui");
    const submission = locationYearWorkflow(Math.round(Math.sqrt(target)));
    const bound = await submitWorkflow(nc, submission);
    const gui = await startGui({ sql: stack.db.sql, nc, log: silentLogger, port: 0 });
    try {
      const wf = `/api/workflows/${bound.workflow_id}`;
      const endpoints = {
        "workflows list": "/api/workflows",
        "workflow overview": wf,
        "template DAG": `${wf}/dag`,
        "tasks, first page": `${wf}/tasks`,
        "tasks by status": `${wf}/tasks?status=DONE`,
        errors: `${wf}/errors`,
        resources: `${wf}/resources`,
      };
      const medianMs: Record<string, number> = {};
      for (const [name, path] of Object.entries(endpoints)) {
        const times: number[] = [];
        for (let k = 0; k < repeat; k++) {
          const t = performance.now();
          const res = await fetch(new URL(path, gui.url));
          await res.text();
          if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        medianMs[name] = Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
      }
      return { bench: "gui", tasks: submission.tasks.length, median_ms: medianMs };
    } finally {
      await gui.stop();
      await nc.close();
    }
  } finally {
    await stack.stop();
  }
}
