import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connectBus } from "../bus/connect.ts";
import { Tool } from "../client/index.ts";
import { submitWorkflow } from "../client/submit.ts";
import type { Submission } from "../submission/submission.ts";
import { type BenchStack, benchStack, peakRssMiB, seconds } from "./stack.ts";

/**
 * `bind --tasks N`: a workflow of L `prep` tasks and L × Y `model` tasks, each model
 * depending on its location's prep (L = Y = sqrt(N) by default: 1,000 + 1,000,000
 * tasks for N = 1,000,000), bound by a bind-dag process. `--via client` (default) builds
 * it with the TypeScript client; `--via spec` submits the equivalent spec file with
 * `drover submit`. Reports seconds per phase, tasks/s and peak RSS of both sides.
 */
export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tasks: { type: "string", default: "1000000" },
      via: { type: "string", default: "client" },
    },
  });
  const target = Number(values.tasks);
  if (!Number.isInteger(target) || target < 4)
    throw new Error("--tasks must be a whole number ≥ 4");
  if (values.via !== "client" && values.via !== "spec")
    throw new Error("--via must be 'client' or 'spec'");
  const side = Math.round(Math.sqrt(target));
  const stack = await benchStack();
  try {
    const binder = await stack.startFunctions(["bind-dag"]);
    const measured =
      values.via === "spec" ? await viaSpecFile(stack, side) : await viaClient(stack, side);
    const [row] = await stack.db.sql<{ tasks: number; edges: number }[]>`
      select (select count(*)::int from task where workflow_id = ${measured.workflowId}) as tasks,
             (select count(*)::int from edge where workflow_id = ${measured.workflowId}) as edges`;
    return {
      bench: "bind",
      via: values.via,
      tasks: row!.tasks,
      edges: row!.edges,
      seconds: measured.seconds,
      tasks_per_second: Math.round(row!.tasks / measured.seconds.submit_to_bound),
      peak_rss_mib: { client: measured.clientRssMiB, bind_dag: peakRssMiB(binder.pid) },
    };
  } finally {
    await stack.stop();
  }
}

interface Measured {
  workflowId: number;
  seconds: { submit_to_bound: number } & Record<string, number>;
  clientRssMiB: number | null;
}

/** The TypeScript client in this process: build, then submit (upload + bind). */
async function viaClient(stack: BenchStack, side: number): Promise<Measured> {
  const nc = await connectBus(stack.nats.url, "bench-bind");
  try {
    const t0 = process.hrtime.bigint();
    const submission = locationYearWorkflow(side);
    const build = seconds(t0);

    const t1 = process.hrtime.bigint();
    let upload = 0;
    const bound = await submitWorkflow(nc, submission, {
      onUploaded: () => {
        upload = seconds(t1);
      },
    });
    const submitToBound = seconds(t1);
    return {
      workflowId: bound.workflow_id,
      // submit_to_bound = upload (client: checks, DAG lines, gzip, object store) + bind
      seconds: {
        build,
        submit_to_bound: submitToBound,
        upload,
        bind: Math.round((submitToBound - upload) * 1000) / 1000,
        total: seconds(t0),
      },
      clientRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await nc.close();
  }
}

/**
 * The same workflow as a spec file of a few lines, submitted with `drover submit` as a
 * user runs it: one process that starts, loads and expands the file, uploads, and exits
 * once bound. Its wall time is submit_to_bound; its peak RSS is sampled while it runs.
 */
async function viaSpecFile(stack: BenchStack, side: number): Promise<Measured> {
  const { locations, years } = axes(side);
  const dir = mkdtempSync(join(tmpdir(), "drover-bench-"));
  const file = join(dir, "bind.json");
  writeFileSync(
    file,
    JSON.stringify({
      tool: { name: "bench", version: "1" },
      workflow: { name: `bind bench ${side}`, default_cluster: "dummy" },
      templates: [
        { name: "prep", command: "prep --loc {location}", node_args: ["location"] },
        {
          name: "model",
          command: "model --loc {location} --year {year}",
          node_args: ["location", "year"],
        },
      ],
      tasks: [
        { template: "prep", foreach: { location: locations }, args: {} },
        {
          template: "model",
          foreach: { location: locations, year: years },
          args: {},
          upstream: [{ template: "prep", match: ["location"] }],
        },
      ],
    }),
  );
  try {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ["bin/drover.mjs", "submit", file, "--json"], {
      env: stack.env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    let clientRssMiB: number | null = null;
    const sampler = setInterval(() => {
      clientRssMiB = peakRssMiB(child.pid) ?? clientRssMiB;
    }, 50);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearInterval(sampler);
    const submitToBound = seconds(t0);
    if (code !== 0) throw new Error(`drover submit exited ${code}: ${out}`);
    const { id } = JSON.parse(out) as { id: number };
    return { workflowId: id, seconds: { submit_to_bound: submitToBound }, clientRssMiB };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The benchmark's workflow built with the TypeScript client: side prep + side² model tasks. */
export function locationYearWorkflow(side: number): Submission {
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
  const { locations, years } = axes(side);
  const workflow = tool.workflow({ name: `bind bench ${side}`, defaultCluster: "dummy" });
  workflow.addTasks(prep.createTasks({ foreach: { location: locations } }));
  workflow.addTasks(
    model.createTasks({
      foreach: { location: locations, year: years },
      upstream: [{ template: prep, match: ["location"] }],
    }),
  );
  return workflow.toSubmission();
}

function axes(side: number) {
  return {
    locations: Array.from({ length: side }, (_, i) => i + 1),
    years: Array.from({ length: side }, (_, i) => 1990 + i),
  };
}
