// The client's resources and retry settings build the same Submission as a spec file:
// large amounts (1 TiB, 30 days, 256 cores, memory scales past 4 GiB), per-task
// resourceScales and fallbackQueues, per-template maxAttempts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSpec } from "../submission/load.ts";
import type { Catalog } from "../submission/resolve.ts";
import { SpecError, Tool } from "./index.ts";

const G = 1024 ** 3;
const T = 1024 ** 4;
const DAY = 86400;

/** The built-in `dummy` cluster as seeded and migrated (all.q 24 h, long.q 30 days). */
const catalog: Catalog = {
  clusters: {
    dummy: {
      queues: {
        "all.q": { max_cores: 1024, max_memory_bytes: T, max_runtime_seconds: DAY },
        "long.q": { max_cores: 1024, max_memory_bytes: T, max_runtime_seconds: 30 * DAY },
      },
    },
  },
};

/** The workflow the client tests build, as a spec file. */
const specFile = {
  tool: { name: "sim" },
  workflow: { name: "sim", default_cluster: "dummy", default_max_attempts: 2 },
  templates: [
    {
      name: "run",
      command: "run {i}",
      node_args: ["i"],
      resource_scales: { memory: [4, 8, 16], runtime: 0.5 },
      max_attempts: 5,
    },
  ],
  tasks: [
    { template: "run", args: { i: 1 } },
    {
      template: "run",
      args: { i: 2 },
      resources: { memory: "1T", runtime: "30d", cores: 256 },
      resource_scales: { runtime: ["20d", "30d"] },
      fallback_queues: ["long.q"],
      max_attempts: 9,
    },
  ],
};

function built(overrides: { taskScales?: object; templateAttempts?: number } = {}) {
  const tool = new Tool("sim");
  const run = tool.template({
    name: "run",
    command: "run {i}",
    nodeArgs: ["i"],
    resourceScales: { memory: [4, "8G", 16], runtime: 0.5 },
    maxAttempts: overrides.templateAttempts ?? 5,
  });
  const wf = tool.workflow({ name: "sim", defaultCluster: "dummy", defaultMaxAttempts: 2 });
  wf.addTask(run.createTask({ args: { i: 1 } }));
  wf.addTask(
    run.createTask({
      args: { i: 2 },
      resources: { memory: "1T", runtime: "30d", cores: 256 },
      resourceScales: overrides.taskScales ?? { runtime: ["20d", 30 * DAY] },
      fallbackQueues: ["long.q"],
      maxAttempts: 9,
    }),
  );
  return wf;
}

function throwsSpec(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe("client resources and retry settings", () => {
  test("the same Submission as the spec file, large amounts and per-task settings included", () => {
    const sub = built().toSubmission({ catalog });
    assert.deepEqual(sub, parseSpec(JSON.stringify(specFile), "json", { catalog }));
    assert.equal(sub.templates[0]!.max_attempts, 5);
    assert.deepEqual(sub.templates[0]!.resource_scales, {
      memory: [4 * G, 8 * G, 16 * G],
      runtime: 0.5,
    });
    assert.deepEqual(sub.tasks[1], {
      template: "run",
      name: "run_i-2",
      args: { i: "2" },
      upstream: [],
      max_attempts: 9,
      resources: { cores: 256, memory_bytes: T, runtime_seconds: 30 * DAY },
      resource_scales: { runtime: [20 * DAY, 30 * DAY] },
      fallback_queues: ["long.q"],
    });
  });

  test("bad values are refused where they are given, naming the task or template and field", () => {
    throwsSpec(
      () => built({ taskScales: { memory: ["lots"] } }),
      /task "run_i-2": resource_scales: memory "lots" is not a valid amount/,
    );
    throwsSpec(
      () => built({ taskScales: { disk: 2 } }),
      /task "run_i-2": resourceScales\.disk: unknown key/,
    );
    throwsSpec(
      () => built({ templateAttempts: 0 }),
      /template "run": maxAttempts: must be a whole number of at least 1/,
    );
    const tool = new Tool("sim");
    const run = tool.template({ name: "run", command: "run" });
    throwsSpec(() => run.createTask({ fallbackQueues: [""] }), /task "run": fallbackQueues\[0\]: /);
  });

  test("with the catalog, a task's fallback queue must exist and its resources fit", () => {
    const tool = new Tool("sim");
    const run = tool.template({ name: "run", command: "run {i}", nodeArgs: ["i"] });
    const wf = tool.workflow({ name: "sim", defaultCluster: "dummy" });
    wf.addTask(run.createTask({ args: { i: 1 }, fallbackQueues: ["nope.q"] }));
    wf.addTask(run.createTask({ args: { i: 2 }, resources: { runtime: "30d" } }));
    throwsSpec(
      () => wf.toSubmission({ catalog }),
      /task "run_i-1": fallback queue "nope\.q" is not a queue of cluster "dummy"/,
      /task "run_i-2": resources fit no allowed queue of cluster "dummy" \(all\.q: runtime 30d > 1d\)/,
    );
  });
});
