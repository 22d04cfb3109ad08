/**
 * The burden example with the TypeScript client: the same workflow as burden.yaml.
 * Run it (with a stack up): npx tsx examples/burden.ts [OUTDIR]
 */
import { Tool } from "../client/index.ts";

export function burdenWorkflow(out = "/tmp/drover-example") {
  const tool = new Tool("burden", "1");
  const model = tool.template({
    name: "model",
    command: "sh examples/bin/model.sh {location} {year} {out}",
    nodeArgs: ["location", "year"],
    opArgs: ["out"],
    resources: { memory: "512M", runtime: "10m" },
    resourceScales: { memory: 0.5, runtime: 0.5 },
    maxConcurrentlyRunning: 8,
  });
  const aggregate = tool.template({
    name: "aggregate",
    command: "sh examples/bin/aggregate.sh {location} {out}",
    nodeArgs: ["location"],
    opArgs: ["out"],
  });
  const report = tool.template({
    name: "report",
    command: "sh examples/bin/report.sh {out}",
    opArgs: ["out"],
  });

  const locations = Array.from({ length: 24 }, (_, i) => i + 1);
  const workflow = tool.workflow({
    name: "burden example",
    defaultCluster: "local",
    defaultResources: { cores: 1, memory: "256M", runtime: "5m" },
    defaultMaxAttempts: 3,
    attributes: { team: "demo" },
  });
  workflow.addTasks(
    model.createTasks({
      foreach: { location: locations, year: [2019, 2020, 2021] },
      args: { out },
    }),
  );
  workflow.addTasks(
    aggregate.createTasks({
      foreach: { location: locations },
      args: { out },
      upstream: [{ template: model, match: ["location"] }],
    }),
  );
  workflow.addTask(report.createTask({ args: { out }, upstream: [{ template: aggregate }] }));
  return workflow;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await burdenWorkflow(process.argv[2]).run({
    onProgress: (view) =>
      process.stderr.write(`${view.status}: ${view.counts.DONE}/${view.total} done\n`),
  });
  console.log(JSON.stringify(result.counts));
  console.log(`workflow ${result.workflowId} ended ${result.status}`);
  process.exit(result.status === "DONE" ? 0 : 1);
}
