// Retry settings per task (resource_scales, fallback_queues, max_attempts) and per
// template (max_attempts): loading, precedence, the DAG wire format, identity, and the
// rejections of bad values.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DagReader, dagLines, type TaskLine } from "./dag.ts";
import { submissionHashes } from "./hash.ts";
import { parseSpec } from "./load.ts";
import {
  type Catalog,
  effectiveFallbackQueues,
  effectiveMaxAttempts,
  effectiveScales,
  templateMap,
} from "./resolve.ts";
import type { Submission } from "./submission.ts";
import { doc, load, rejects } from "./testdata/fixtures.ts";
import { validateSubmission } from "./validate.ts";

const G = 1024 ** 3;

const catalog: Catalog = {
  clusters: {
    local: {
      queues: {
        "all.q": { max_runtime_seconds: 86400 },
        "long.q": { max_runtime_seconds: 30 * 86400 },
        "big.q": { max_memory_bytes: 4096 * G },
      },
    },
  },
};

/** doc() with retry settings on template "prep" and tasks that override some of them. */
function settingsDoc(tasks: unknown[]) {
  const d = doc(tasks);
  Object.assign(d.templates[0]!, {
    resource_scales: { memory: 0.5, runtime: [3600] },
    fallback_queues: ["long.q"],
    max_attempts: 4,
  });
  return d;
}

const overriding = [
  { template: "prep", name: "plain", args: { location: 1, year: 1 } },
  {
    template: "prep",
    name: "own",
    args: { location: 2, year: 1 },
    resource_scales: { memory: [8, "16G"] },
    fallback_queues: ["big.q"],
    max_attempts: 7,
  },
  { template: "agg", name: "bare", args: { location: 3 } },
];

/** Each task's effective settings, as the binder resolves them. */
function effective(sub: Submission) {
  const templates = templateMap(sub.templates);
  return sub.tasks.map((task) => {
    const template = templates.get(task.template);
    return {
      name: task.name,
      max_attempts: effectiveMaxAttempts(sub.workflow, template, task),
      scales: effectiveScales(template, task),
      fallbacks: effectiveFallbackQueues(template, task),
    };
  });
}

describe("per-task retry settings", () => {
  test("load from a spec file and resolve task > template > workflow", () => {
    const sub = load(settingsDoc(overriding));
    assert.equal(sub.templates[0]!.max_attempts, 4);
    assert.deepEqual(sub.tasks[1], {
      template: "prep",
      name: "own",
      args: { location: "2", year: "1" },
      upstream: [],
      max_attempts: 7,
      resource_scales: { memory: [8 * G, 16 * G] },
      fallback_queues: ["big.q"],
    });
    assert.deepEqual(effective(sub), [
      {
        name: "plain",
        max_attempts: 4,
        scales: { memory: 0.5, runtime: [3600] },
        fallbacks: ["long.q"],
      },
      // Scales merge resource by resource; a list of fallback queues replaces the other.
      {
        name: "own",
        max_attempts: 7,
        scales: { memory: [8 * G, 16 * G], runtime: [3600] },
        fallbacks: ["big.q"],
      },
      { name: "bare", max_attempts: 3, scales: undefined, fallbacks: [] },
    ]);
  });

  test("a foreach entry gives its settings to every task it makes", () => {
    const sub = load(
      doc([{ template: "agg", foreach: { location: [1, 2] }, fallback_queues: ["long.q"] }]),
    );
    assert.deepEqual(
      sub.tasks.map((t) => t.fallback_queues),
      [["long.q"], ["long.q"]],
    );
  });

  test("travel in the DAG lines and are read back as written", () => {
    const sub = load(settingsDoc(overriding));
    const reader = new DagReader({ workflow: sub.workflow, catalog });
    const lines = [...dagLines(sub)].map((l) => reader.add(JSON.parse(l)));
    reader.finish();
    assert.equal(lines[0]!.kind === "template" && lines[0]!.max_attempts, 4);
    const own = lines.find((l): l is TaskLine => l.kind === "task" && l.name === "own")!;
    assert.deepEqual(
      [own.resource_scales, own.fallback_queues, own.max_attempts],
      [{ memory: [8 * G, 16 * G] }, ["big.q"], 7],
    );
  });

  test("are not part of identity: the DAG and task-set hashes do not change with them", () => {
    const plain = load(
      doc(overriding.map(({ template, name, args }) => ({ template, name, args }))),
    );
    const withSettings = load(settingsDoc(overriding));
    assert.deepEqual(submissionHashes(withSettings), submissionHashes(plain));
  });

  test("a task's own fallback queue lets resources fit that the template's would not", () => {
    const big = { template: "prep", name: "huge", args: { location: 1, year: 1 } };
    const fits = load(doc([{ ...big, resources: { memory: "2T" }, fallback_queues: ["big.q"] }]));
    assert.equal(fits.tasks[0]!.fallback_queues?.[0], "big.q");
    const reader = new DagReader({ workflow: fits.workflow, catalog });
    for (const l of dagLines(fits)) reader.add(JSON.parse(l));
    assert.equal(reader.finish().taskCount, 1);
  });
});

describe("bad per-task and per-template settings are refused, naming the task and field", () => {
  const task = (extra: Record<string, unknown>) =>
    doc([{ template: "prep", name: "x", args: { location: 1, year: 1 }, ...extra }]);

  test("shapes: unknown keys, wrong types, empty lists and names", () => {
    rejects(
      task({ resource_scales: { cpu: 1 } }),
      /^tasks\[0\]\.resource_scales\.cpu \(task "x"\): unknown key$/m,
    );
    rejects(
      task({ resource_scales: { memory: [] } }),
      /^tasks\[0\]\.resource_scales\.memory \(task "x"\): /m,
    );
    rejects(
      task({ resource_scales: { memory: -1 } }),
      /^tasks\[0\]\.resource_scales\.memory \(task "x"\): /m,
    );
    rejects(task({ fallback_queues: "long.q" }), /^tasks\[0\]\.fallback_queues \(task "x"\): /m);
    rejects(task({ fallback_queues: [""] }), /^tasks\[0\]\.fallback_queues\[0\] \(task "x"\): /m);
    const d = doc([]);
    Object.assign(d.templates[0]!, { max_attempts: 0 });
    rejects(d, /^templates\[0\]\.max_attempts: must be a whole number of at least 1$/m);
    Object.assign(d.templates[0]!, { max_attempts: 5000 });
    rejects(d, /^templates\[0\]\.max_attempts: must be at most 1000$/m);
  });

  test("amounts: bad units and sizes, named with the task", () => {
    rejects(
      task({ resource_scales: { memory: ["4G", "lots"], runtime: ["1x"] } }),
      /^task "x": resource_scales: memory "lots" is not a valid amount/m,
      /^task "x": resource_scales: runtime "1x" is not a valid amount/m,
    );
    rejects(
      task({ resource_scales: { runtime: ["100000d"] } }),
      /^task "x": resource_scales: runtime "100000d" is too large/m,
    );
  });

  test("a Submission built by hand is checked the same way", () => {
    const sub = load(settingsDoc(overriding));
    const own = sub.tasks[1]!;
    own.resource_scales = { memory: [0], runtime: [2 ** 31] };
    own.fallback_queues = [""];
    sub.templates[0]!.max_attempts = 0;
    assert.throws(
      () => validateSubmission(sub),
      (err: Error) => {
        for (const p of [
          /^task "own": resource_scales memory 0 must be a whole number of at least 1$/m,
          /^task "own": resource_scales runtime 2147483648 must be at most 2147483647$/m,
          /^task "own": fallback_queues holds an empty or non-text queue name$/m,
          /^template "prep": max_attempts 0 must be a whole number of at least 1$/m,
        ]) {
          assert.match(err.message, p);
        }
        return true;
      },
    );
  });

  test("with the catalog: a task's unknown fallback queue is named with the task", () => {
    const d = task({ fallback_queues: ["nope.q"] });
    assert.throws(
      () => parseSpec(JSON.stringify(d), "json", { catalog }),
      /task "x": fallback queue "nope\.q" is not a queue of cluster "local"$/m,
    );
  });
});
