import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSpecFile } from "../submission/load.ts";
import { SpecError, type Task, Tool } from "./index.ts";

const example = () =>
  loadSpecFile(fileURLToPath(new URL("../submission/testdata/burden.yaml", import.meta.url)));

/** The SPEC.md §1 example, built with the client. */
function burden(explicit: boolean) {
  const tool = new Tool("burden");
  const prep = tool.template({
    name: "prep",
    command: "python prep.py --loc {location} --year {year} --out {out}",
    nodeArgs: ["location"],
    taskArgs: ["year"],
    opArgs: ["out"],
    cluster: "local",
    resources: { memory: "2G", runtime: "30m" },
    resourceScales: { memory: 0.5, runtime: [3600, 7200] },
    fallbackQueues: ["long.q"],
    maxConcurrentlyRunning: 100,
  });
  const agg = tool.template({
    name: "agg",
    command: "python agg.py --loc {location}",
    nodeArgs: ["location"],
  });
  const report = tool.template({ name: "report", command: "python report.py" });
  const wf = tool.workflow({
    name: "burden-2026",
    args: { round: 7 },
    maxConcurrentlyRunning: 500,
    defaultCluster: "local",
    defaultResources: { cores: 1, memory: "1G", runtime: "10m", queue: "all.q" },
    defaultMaxAttempts: 3,
    failFast: false,
    attributes: { owner_team: "gbd" },
  });
  const prep1 = prep.createTask({
    name: "prep_1",
    args: { location: 1, year: 2020, out: "/data/out" },
    maxAttempts: 5,
    resources: { memory: "4G" },
    cluster: "local",
    attributes: { stage: "1" },
  });
  const preps = prep.createTasks({
    foreach: { location: [2, 3, 4] },
    args: { year: 2020, out: "/data/out" },
    upstream: [prep1],
  });
  let aggs: Task[];
  let rep: Task;
  if (explicit) {
    const byLocation = [prep1, ...preps];
    aggs = [1, 2, 3, 4].map((location, k) =>
      agg.createTask({ args: { location }, upstream: [byLocation[k]!] }),
    );
    rep = report.createTask();
    for (const a of aggs) a.addDownstream(rep);
  } else {
    aggs = agg.createTasks({
      foreach: { location: [1, 2, 3, 4] },
      upstream: [{ template: prep, match: ["location"] }],
    });
    rep = report.createTask({ upstream: [{ template: agg }] });
  }
  wf.addTasks([prep1, ...preps, ...aggs, rep]);
  return { tool, prep, agg, report, wf, prep1, preps, aggs, rep };
}

function throwsSpec(fn: () => unknown, ...patterns: RegExp[]): SpecError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SpecError, `expected a SpecError, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

describe("the client builds the same Submission as the spec file", () => {
  test("with {template, match} rules", async () => {
    assert.deepStrictEqual(burden(false).wf.toSubmission(), await example());
  });

  test("with explicit upstream tasks and addDownstream", async () => {
    assert.deepStrictEqual(burden(true).wf.toSubmission(), await example());
  });
});

describe("building", () => {
  test("createTasks: cross product, default names", () => {
    const tool = new Tool("t");
    const cell = tool.template({
      name: "cell",
      command: "c {a} {b} {c}",
      nodeArgs: ["a", "b"],
      opArgs: ["c"],
    });
    const tasks = cell.createTasks({ foreach: { a: [1, 2, 3], b: ["x", "y"] }, args: { c: "z" } });
    assert.equal(tasks.length, 6);
    assert.deepEqual(
      tasks.map((t) => t.name),
      [
        "cell_a-1_b-x",
        "cell_a-1_b-y",
        "cell_a-2_b-x",
        "cell_a-2_b-y",
        "cell_a-3_b-x",
        "cell_a-3_b-y",
      ],
    );
    assert.deepEqual(tasks[0]!.args, { a: "1", b: "x", c: "z" });
  });

  test("upstream tasks not added explicitly are added too", () => {
    const tool = new Tool("t");
    const step = tool.template({ name: "step", command: "s {n}", nodeArgs: ["n"] });
    const a = step.createTask({ args: { n: 1 } });
    const b = step.createTask({ args: { n: 2 }, upstream: [a] });
    const c = step.createTask({ args: { n: 3 } }).addUpstream(b);
    const sub = tool.workflow({ name: "w" }).addTask(c).addTask(c).toSubmission();
    assert.deepEqual(
      sub.tasks.map((t) => [t.name, t.upstream]),
      [
        ["step_n-3", [1]],
        ["step_n-2", [2]],
        ["step_n-1", []],
      ],
    );
    assert.deepEqual(b.upstreamTasks, [a]);
  });

  test("concurrency limits can change until the Submission is built", () => {
    const { wf, prep } = burden(false);
    wf.setMaxConcurrentlyRunning(0);
    prep.maxConcurrentlyRunning = 7;
    const sub = wf.toSubmission();
    assert.equal(sub.workflow.max_concurrently_running, 0);
    assert.equal(sub.templates[0]!.max_concurrently_running, 7);
    prep.setMaxConcurrentlyRunning(undefined);
    wf.setMaxConcurrentlyRunning(undefined);
    const again = wf.toSubmission();
    assert.equal(again.templates[0]!.max_concurrently_running, undefined);
    assert.equal("max_concurrently_running" in again.workflow, false);
    throwsSpec(() => {
      prep.maxConcurrentlyRunning = -1;
    }, /max_concurrently_running -1/);
  });

  test("defining a template again: same options → same template; other options → error", () => {
    const tool = new Tool("t");
    const a = tool.template({ name: "a", command: "a" });
    assert.equal(tool.template({ name: "a", command: "a" }), a);
    assert.equal(tool.getTemplate("a"), a);
    throwsSpec(() => tool.template({ name: "a", command: "b" }), /template "a" is already defined/);
  });

  test("workflow defaults", () => {
    const tool = new Tool("t");
    const a = tool.template({ name: "a", command: "a" });
    const sub = tool.workflow({ name: "w" }).addTask(a.createTask()).toSubmission();
    assert.deepEqual(sub.tool, { name: "t", version: "1" });
    assert.deepEqual(sub.workflow, {
      name: "w",
      default_cluster: "local",
      default_max_attempts: 3,
      fail_fast: false,
    });
  });
});

describe("mistakes are reported where they are made", () => {
  const tool = new Tool("t");
  const prep = tool.template({
    name: "prep",
    command: "p {location} {year}",
    nodeArgs: ["location"],
    taskArgs: ["year"],
  });

  test("missing and extra args", () => {
    throwsSpec(
      () => prep.createTask({ args: { location: 3 } }),
      /^task "prep_location-3": arg "year" is missing$/m,
    );
    throwsSpec(
      () => prep.createTask({ args: { location: 3, year: 1, colour: "red" } }),
      /^task "prep_location-3": arg "colour" is not an arg of template "prep"$/m,
    );
    throwsSpec(
      () => prep.createTasks({ foreach: { location: [1, 2] } }),
      /tasks of template "prep" \(foreach location\): arg "year" is missing/,
    );
    throwsSpec(
      () => prep.createTasks({ foreach: { location: [1] }, args: { location: 2, year: 1 } }),
      /arg "location" is in both args and foreach/,
    );
  });

  test("createTasks without foreach: a clear error, not a TypeError", () => {
    const untyped = prep as unknown as { createTasks(o?: unknown): unknown };
    for (const options of [{ args: { location: 1, year: 2 } }, undefined, { foreach: [1, 2] }]) {
      throwsSpec(
        () => untyped.createTasks(options),
        /tasks of template "prep": createTasks needs foreach.*createTask\(\{ args \}\)/,
      );
    }
  });

  test("bad values, units and names", () => {
    throwsSpec(
      () => prep.createTask({ args: { location: 1, year: 1 }, resources: { memory: "12X" } }),
      /^task "prep_location-1": memory "12X" is not a valid amount \(use e\.g\. 512M, 2G, 1\.5G\)$/m,
    );
    throwsSpec(
      () => prep.createTask({ name: "a b", args: { location: 1, year: 1 } }),
      /task name "a b" contains whitespace/,
    );
    throwsSpec(
      () => prep.createTask({ args: { location: {} as unknown as string, year: 1 } }),
      /is not a string, number or boolean/,
    );
    throwsSpec(() => new Tool("1t"), /tool name "1t" starts with a digit/);
    throwsSpec(
      () => tool.template({ name: "x", command: "x {y}" }),
      /template "x": command placeholder \{y\} is not among the template's args/,
    );
    throwsSpec(
      () => tool.template({ name: "x2", command: "x", resources: { runtime: "soon" } }),
      /template "x2": runtime "soon" is not a valid amount/,
    );
    throwsSpec(
      () => tool.workflow({ name: "w", defaultResources: { memory: -1 } }),
      /workflow default_resources: memory "-1" must be more than zero/,
    );
    throwsSpec(() => tool.workflow({ name: "" }), /workflow: name: Too small/);
    throwsSpec(
      () => prep.createTask({ args: { location: 1, year: 1 }, maxAttempts: 0 }),
      /task "prep_location-1": maxAttempts: must be a whole number of at least 1/,
    );
  });

  test("match on an arg a template lacks", () => {
    const agg = tool.template({ name: "agg", command: "a", nodeArgs: ["location"] });
    throwsSpec(
      () =>
        agg.createTask({
          args: { location: 1 },
          upstream: [{ template: prep, match: ["colour"] }],
        }),
      /upstream \{template: "prep", match: \[colour\]\}: template "prep" has no arg "colour"/,
    );
  });

  test("found when building: duplicates, cycles, rules matching nothing, foreign templates", () => {
    const wf = tool.workflow({ name: "w" });
    wf.addTasks([
      prep.createTask({ args: { location: 1, year: 1 } }),
      prep.createTask({ name: "p2", args: { location: 1, year: 2 } }),
    ]);
    throwsSpec(
      () => wf.toSubmission(),
      /^task "p2": same template and node_args as task "prep_location-1" \(duplicate task identity\)$/m,
    );

    const a = prep.createTask({ args: { location: 1, year: 1 } });
    const b = prep.createTask({ args: { location: 2, year: 1 }, upstream: [a] });
    a.addUpstream(b);
    throwsSpec(
      () => tool.workflow({ name: "w" }).addTask(a).toSubmission(),
      /^upstream cycle: "prep_location-1" → "prep_location-2" → "prep_location-1"$/m,
    );

    const step = tool.template({ name: "step", command: "s {location}", nodeArgs: ["location"] });
    const lonely = step.createTask({
      args: { location: 9 },
      upstream: [{ template: prep, match: ["location"] }],
    });
    throwsSpec(
      () => tool.workflow({ name: "w" }).addTask(lonely).toSubmission(),
      /^task "step_location-9": upstream \{template: "prep", match: \[location\]\} matches no task$/m,
    );

    const other = new Tool("other").template({ name: "o", command: "o" });
    throwsSpec(
      () => tool.workflow({ name: "w" }).addTask(other.createTask()).toSubmission(),
      /template "o" belongs to tool "other", not "t"/,
    );
  });

  test("checked against a catalog when given one", () => {
    const { wf } = burden(false);
    const catalog = {
      clusters: { local: { queues: { "all.q": { max_memory_bytes: 3 * 1024 ** 3 } } } },
    };
    throwsSpec(
      () => wf.toSubmission({ catalog }),
      /fallback queue "long\.q" is not a queue of cluster "local"/,
      /task "prep_1": resources fit no allowed queue of cluster "local" \(all\.q: memory 4G > 3G\)/,
    );
  });
});
