import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DEFAULT_RESOURCES } from "../core/resources.ts";
import { SpecError } from "./errors.ts";
import { type Catalog, pickQueue, resolveResources } from "./resolve.ts";
import type { Submission, TaskSpec } from "./submission.ts";
import { findCycle } from "./topo.ts";
import { validateSubmission } from "./validate.ts";

const G = 1024 ** 3;

const catalog: Catalog = {
  clusters: {
    local: {
      queues: {
        "all.q": { max_cores: 8, max_memory_bytes: 16 * G, max_runtime_seconds: 86400 },
        "long.q": { max_cores: 8, max_memory_bytes: 16 * G, max_runtime_seconds: 7 * 86400 },
      },
    },
    slurm: { queues: { short: { max_runtime_seconds: 3600, max_cores: null } } },
  },
};

function task(name: string, args: Record<string, string>, extra: Partial<TaskSpec> = {}): TaskSpec {
  return { template: "prep", name, args, upstream: [], ...extra };
}

function submission(tasks: TaskSpec[]): Submission {
  return {
    tool: { name: "t", version: "1" },
    workflow: {
      name: "w",
      default_cluster: "local",
      default_max_attempts: 3,
      fail_fast: false,
      default_resources: { cores: 1, memory_bytes: G, runtime_seconds: 600, queue: "all.q" },
    },
    templates: [
      {
        name: "prep",
        command: "p {location} {year}",
        node_args: ["location"],
        task_args: ["year"],
        op_args: [],
        fallback_queues: ["long.q"],
      },
    ],
    tasks,
  };
}

function rejects(sub: Submission, cat: Catalog | undefined, ...patterns: RegExp[]): SpecError {
  let caught: unknown;
  try {
    validateSubmission(sub, cat);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SpecError, "expected a SpecError");
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

describe("validateSubmission", () => {
  test("a valid submission passes, with and without a catalog", () => {
    const sub = submission([
      task("a", { location: "1", year: "2020" }),
      task("b", { location: "2", year: "2020" }, { upstream: [0] }),
    ]);
    validateSubmission(sub);
    validateSubmission(sub, catalog);
  });

  test("args: missing, extra", () => {
    rejects(
      submission([
        task("prep_location-3", { location: "3" }),
        task("x", { location: "4", year: "1", colour: "r" }),
      ]),
      undefined,
      /^task "prep_location-3": arg "year" is missing$/m,
      /^task "x": arg "colour" is not an arg of template "prep"$/m,
    );
  });

  test("unknown template, duplicate identity, duplicate name, bad upstream index", () => {
    const e = rejects(
      submission([
        task("a", { location: "1", year: "2020" }),
        task("b", { location: "1", year: "2021" }),
        task("a", { location: "2", year: "2020" }, { upstream: [7] }),
        { template: "nope", name: "n", args: {}, upstream: [] },
      ]),
      undefined,
      /^task "b": same template and node_args as task "a" \(duplicate task identity\)$/m,
      /^task "a": name is used by tasks 0 and 2$/m,
      /^task "a": upstream index 7 is out of range \(0\.\.3\)$/m,
      /^task "n": unknown template "nope"$/m,
    );
    assert.equal(e.problems.length, 4);
  });

  test("non-positive amounts and counts", () => {
    rejects(
      submission([
        task(
          "a",
          { location: "1", year: "1" },
          { max_attempts: 0, resources: { memory_bytes: -1 } },
        ),
      ]),
      undefined,
      /^task "a": max_attempts 0 must be a whole number of at least 1$/m,
      /^task "a": memory -1 must be a whole number of at least 1$/m,
    );
  });

  test("amounts and counts past what the database stores", () => {
    rejects(
      submission([
        task(
          "a",
          { location: "1", year: "1" },
          { max_attempts: 5000, resources: { cores: 40_000, runtime_seconds: 2 ** 31 } },
        ),
      ]),
      undefined,
      /^task "a": max_attempts 5000 must be at most 1000$/m,
      /^task "a": cores 40000 must be at most 32767$/m,
      /^task "a": runtime 2147483648 must be at most 2147483647$/m,
    );
  });

  test("cycle: findCycle names the tasks, each upstream of the next", () => {
    const sub = submission([
      task("a", { location: "1", year: "1" }, { upstream: [2] }),
      task("b", { location: "2", year: "1" }, { upstream: [0] }),
      task("c", { location: "3", year: "1" }, { upstream: [1] }),
      task("d", { location: "4", year: "1" }, { upstream: [2] }),
    ]);
    assert.deepEqual(findCycle(sub), ["a", "b", "c"]);
    rejects(sub, undefined, /^upstream cycle: "a" → "b" → "c" → "a"$/m);
    sub.tasks[0]!.upstream = [];
    assert.equal(findCycle(sub), null);
  });

  test("catalog: unknown cluster at every level", () => {
    const sub = submission([task("a", { location: "1", year: "1" }, { cluster: "mars" })]);
    sub.workflow.default_cluster = "venus";
    sub.templates[0]!.cluster = "nope";
    rejects(
      sub,
      catalog,
      /^workflow: unknown cluster "venus"$/m,
      /^template "prep": unknown cluster "nope"$/m,
      /^task "a": unknown cluster "mars"$/m,
    );
  });

  test("catalog: unknown queue, unknown fallback queue", () => {
    const sub = submission([
      task("a", { location: "1", year: "1" }, { resources: { queue: "gpu.q" } }),
    ]);
    rejects(sub, catalog, /^task "a": unknown queue "gpu\.q" on cluster "local"$/m);
    const sub2 = submission([task("a", { location: "1", year: "1" })]);
    sub2.templates[0]!.fallback_queues = ["huge.q"];
    rejects(
      sub2,
      catalog,
      /^template "prep": fallback queue "huge\.q" is not a queue of cluster "local"$/m,
    );
    const sub3 = submission([task("a", { location: "1", year: "1" })]);
    sub3.templates[0]!.cluster = "slurm";
    rejects(
      sub3,
      catalog,
      /^workflow default_resources: unknown queue "all\.q" on cluster "slurm"$/m,
    );
  });

  test("catalog: resources must fit the queue or a fallback queue", () => {
    // 3 days: over all.q's 1 day, within long.q (a fallback): accepted.
    const ok = submission([
      task("a", { location: "1", year: "1" }, { resources: { runtime_seconds: 3 * 86400 } }),
    ]);
    validateSubmission(ok, catalog);
    const e = rejects(
      submission([
        task("a", { location: "1", year: "1" }, { resources: { memory_bytes: 32 * G } }),
        task(
          "b",
          { location: "2", year: "1" },
          { resources: { cores: 64, runtime_seconds: 30 * 86400 } },
        ),
      ]),
      catalog,
      /^task "a": resources fit no allowed queue of cluster "local" \(all\.q: memory 32G > 16G; long\.q: memory 32G > 16G\)$/m,
      /^task "b": resources fit no allowed queue of cluster "local" \(all\.q: cores 64 > 8, runtime 30d > 1d; long\.q: cores 64 > 8, runtime 30d > 7d\)$/m,
    );
    assert.equal(e.problems.length, 2);
  });

  test("catalog: values no level names are the built-in defaults (1 core, 1 GiB, 1 hour)", () => {
    const sub = submission([task("a", { location: "1", year: "1" })]);
    sub.workflow.default_resources = undefined;
    sub.templates[0]!.fallback_queues = undefined;
    const short = { clusters: { local: { queues: { quick: { max_runtime_seconds: 1800 } } } } };
    rejects(
      sub,
      short,
      /^template "prep": resources fit no allowed queue of cluster "local" \(quick: runtime 1h > 30m\)$/m,
    );
    assert.deepEqual(resolveResources(sub, 0), DEFAULT_RESOURCES);
  });

  test("catalog: template-level misfit reported once for all its tasks", () => {
    const tasks = Array.from({ length: 1000 }, (_, i) =>
      task(`t${i}`, { location: `${i}`, year: "1" }),
    );
    const sub = submission(tasks);
    sub.templates[0]!.resources = { memory_bytes: 100 * G };
    const e = rejects(sub, catalog, /^template "prep": resources fit no allowed queue/m);
    assert.equal(e.total, 1);
  });

  test("resolveResources: workflow < template < task, field by field; pickQueue", () => {
    const sub = submission([
      task("a", { location: "1", year: "1" }, { resources: { memory_bytes: 4 * G } }),
    ]);
    sub.templates[0]!.resources = { memory_bytes: 2 * G, runtime_seconds: 3 * 86400 };
    const r = resolveResources(sub, 0);
    assert.deepEqual(r, {
      cores: 1,
      memory_bytes: 4 * G,
      runtime_seconds: 3 * 86400,
      queue: "all.q",
    });
    assert.equal(pickQueue(catalog, "local", r, ["long.q"]), "long.q");
    assert.equal(pickQueue(catalog, "local", { runtime_seconds: 60 }), "all.q");
    assert.equal(pickQueue(catalog, "local", { cores: 99 }), undefined);
  });

  test("reuseTaskChecks: tasks that passed are not checked again unless replaced", () => {
    const sub = submission([task("a", { location: "1", year: "1" })]);
    validateSubmission(sub);
    // A change inside a task object is not looked at again (bind-dag checks every task)...
    sub.tasks[0]!.name = "bad name";
    validateSubmission(sub, undefined, { reuseTaskChecks: true });
    assert.throws(() => validateSubmission(sub), /contains whitespace/);
    // ... but a new task list, a new template, and workflow fields are.
    sub.tasks = [task("a", { location: "1", year: "1" }), task("b", { location: "1", year: "2" })];
    assert.throws(
      () => validateSubmission(sub, undefined, { reuseTaskChecks: true }),
      /duplicate task identity/,
    );
    sub.tasks = [task("a", { location: "1", year: "1" })];
    validateSubmission(sub);
    sub.templates = [{ ...sub.templates[0]!, op_args: ["out"] }];
    assert.throws(
      () => validateSubmission(sub, undefined, { reuseTaskChecks: true }),
      /arg "out" is missing/,
    );
    sub.templates = submission([]).templates;
    validateSubmission(sub);
    sub.workflow.timeout_seconds = 0;
    assert.throws(
      () => validateSubmission(sub, undefined, { reuseTaskChecks: true }),
      /timeout_seconds 0/,
    );
  });
});
