import { parseArgs } from "node:util";
import { connectBus } from "../bus/connect.ts";
import { Tool } from "../client/index.ts";
import { submitWorkflow } from "../client/submit.ts";
import { benchStack, peakRssMiB, seconds } from "./stack.ts";

/**
 * `bind --tasks N`: a workflow of L `prep` tasks and L × Y `model` tasks, each model
 * depending on its location's prep (L = Y = sqrt(N) by default: 1,000 + 1,000,000
 * tasks for N = 1,000,000), built with the TypeScript client, uploaded, and bound by a
 * bind-dag process. Reports seconds per phase, tasks/s and peak RSS of both sides.
 */
export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { tasks: { type: "string", default: "1000000" } },
  });
  const target = Number(values.tasks);
  if (!Number.isInteger(target) || target < 4)
    throw new Error("--tasks must be a whole number ≥ 4");
  const side = Math.round(Math.sqrt(target));
  const stack = await benchStack();
  try {
    const binder = await stack.startFunctions(["bind-dag"]);
    const nc = await connectBus(stack.nats.url, "bench-bind");

    const t0 = process.hrtime.bigint();
    const tool = new Tool("bench", "1");
    const prep = tool.template({
      name: "prep",
      command: "prep --loc {location}",
      nodeArgs: ["location"],
    });
    const model = tool.template({
      name: "model",
      command: "model --loc {location} --year {year}",
      nodeArgs: ["location", "year"],
    });
    const locations = Array.from({ length: side }, (_, i) => i + 1);
    const years = Array.from({ length: side }, (_, i) => 1990 + i);
    const workflow = tool.workflow({ name: `bind bench ${target}`, defaultCluster: "dummy" });
    workflow.addTasks(prep.createTasks({ foreach: { location: locations } }));
    workflow.addTasks(
      model.createTasks({
        foreach: { location: locations, year: years },
        upstream: [{ template: prep, match: ["location"] }],
      }),
    );
    const submission = workflow.toSubmission();
    const build = seconds(t0);

    const t1 = process.hrtime.bigint();
    let upload = 0;
    const bound = await submitWorkflow(nc, submission, {
      onUploaded: () => {
        upload = seconds(t1);
      },
    });
    const submitToBound = seconds(t1);
    const [row] = await stack.db.sql<{ tasks: number; edges: number }[]>`
      select (select count(*)::int from task where workflow_id = ${bound.workflow_id}) as tasks,
             (select count(*)::int from edge where workflow_id = ${bound.workflow_id}) as edges`;
    const result = {
      bench: "bind",
      tasks: row!.tasks,
      edges: row!.edges,
      // submit_to_bound = upload (client: checks, DAG lines, gzip, object store) + bind
      seconds: {
        build,
        submit_to_bound: submitToBound,
        upload,
        bind: Math.round((submitToBound - upload) * 1000) / 1000,
        total: seconds(t0),
      },
      tasks_per_second: Math.round(row!.tasks / submitToBound),
      peak_rss_mib: {
        client: Math.round(process.resourceUsage().maxRSS / 1024),
        bind_dag: peakRssMiB(binder.pid),
      },
    };
    await nc.close();
    return result;
  } finally {
    await stack.stop();
  }
}
