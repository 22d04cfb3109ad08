import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { SpecError } from "./errors.ts";
import { loadSpecFile, parseSpec, SpecFileSchema, specFileJsonSchema } from "./load.ts";

const data = (name: string) => fileURLToPath(new URL(`testdata/${name}`, import.meta.url));
const G = 1024 ** 3;

/** A small valid document to vary: templates prep(location; year), agg(location), all(), cell(location, year). */
function doc(tasks: unknown[], extra: Record<string, unknown> = {}) {
  return {
    tool: { name: "t" },
    workflow: { name: "w" },
    templates: [
      {
        name: "prep",
        command: "p {location} {year}",
        node_args: ["location"],
        task_args: ["year"],
      },
      { name: "agg", command: "a {location}", node_args: ["location"] },
      { name: "all", command: "all" },
      { name: "cell", command: "c {location} {year}", node_args: ["location", "year"] },
    ],
    tasks,
    ...extra,
  };
}

const load = (d: unknown) => parseSpec(JSON.stringify(d), "json");

function rejects(d: unknown, ...patterns: RegExp[]): SpecError {
  let caught: unknown;
  try {
    load(d);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SpecError, `expected a SpecError, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

describe("the SPEC.md §1 example", () => {
  test("loads as described", async () => {
    const sub = await loadSpecFile(data("burden.yaml"));
    assert.deepEqual(sub.tool, { name: "burden", version: "1" });
    assert.equal(sub.workflow.default_cluster, "local");
    assert.equal(sub.workflow.default_max_attempts, 3);
    assert.equal(sub.workflow.fail_fast, false);
    assert.deepEqual(sub.workflow.args, { round: 7 });
    assert.deepEqual(sub.workflow.default_resources, {
      cores: 1,
      memory_bytes: G,
      runtime_seconds: 600,
      queue: "all.q",
    });
    const prep = sub.templates[0]!;
    assert.deepEqual(prep.resources, { memory_bytes: 2 * G, runtime_seconds: 1800 });
    assert.deepEqual(prep.resource_scales, { memory: 0.5, runtime: [3600, 7200] });
    assert.deepEqual(sub.templates[2], {
      name: "report",
      command: "python report.py",
      node_args: [],
      task_args: [],
      op_args: [],
    });
    assert.deepEqual(
      sub.tasks.map((t) => [t.name, t.upstream]),
      [
        ["prep_1", []],
        ["prep_location-2", [0]],
        ["prep_location-3", [0]],
        ["prep_location-4", [0]],
        ["agg_location-1", [0]],
        ["agg_location-2", [1]],
        ["agg_location-3", [2]],
        ["agg_location-4", [3]],
        ["report", [4, 5, 6, 7]],
      ],
    );
    assert.deepEqual(sub.tasks[0], {
      template: "prep",
      name: "prep_1",
      args: { location: "1", year: "2020", out: "/data/out" },
      upstream: [],
      max_attempts: 5,
      resources: { memory_bytes: 4 * G },
      cluster: "local",
      attributes: { stage: "1" },
    });
    assert.deepEqual(sub.tasks[1]!.args, { location: "2", year: "2020", out: "/data/out" });
  });

  test("the same workflow in JSON (numbers for strings, other units) is deep-equal", async () => {
    const yaml = await loadSpecFile(data("burden.yaml"));
    const json = await loadSpecFile(data("burden.json"));
    assert.deepStrictEqual(json, yaml);
  });
});

describe("expansion", () => {
  test("foreach is the cross product, first key slowest", () => {
    const sub = load(
      doc([{ template: "cell", foreach: { location: [1, 2, 3], year: [2020, 2021] } }]),
    );
    assert.equal(sub.tasks.length, 6);
    assert.deepEqual(
      sub.tasks.map((t) => `${t.args.location}/${t.args.year}`),
      ["1/2020", "1/2021", "2/2020", "2/2021", "3/2020", "3/2021"],
    );
  });

  test("foreach over three keys with fixed args", () => {
    const d = doc([]);
    d.templates.push({ name: "x", command: "x {a} {b} {c} {d}", node_args: ["a", "b", "c", "d"] });
    d.tasks.push({
      template: "x",
      foreach: { a: [1, 2], b: [1, 2, 3], c: [1, 2, 3, 4] },
      args: { d: 0 },
    });
    const sub = load(d);
    assert.equal(sub.tasks.length, 24);
    assert.equal(new Set(sub.tasks.map((t) => t.name)).size, 24);
    assert.equal(sub.tasks[23]!.name, "x_a-2_b-3_c-4_d-0");
  });

  test("default names: template and node args; explicit names kept", () => {
    const sub = load(
      doc([
        { template: "prep", args: { location: "a b/c", year: 1 } },
        { template: "prep", name: "mine", args: { location: 2, year: 1 } },
        { template: "all" },
      ]),
    );
    assert.deepEqual(
      sub.tasks.map((t) => t.name),
      ["prep_location-a_b_c", "mine", "all"],
    );
  });

  test('match joins on arg values compared as strings (1 and "1")', () => {
    const sub = load(
      doc([
        { template: "cell", foreach: { location: [1, 2], year: [2020, 2021] } },
        {
          template: "agg",
          foreach: { location: ["1", "2"] },
          upstream: [{ template: "cell", match: ["location"] }],
        },
      ]),
    );
    assert.deepEqual(sub.tasks[4]!.upstream, [0, 1]);
    assert.deepEqual(sub.tasks[5]!.upstream, [2, 3]);
  });

  test("match on two args", () => {
    const d = doc([{ template: "cell", foreach: { location: [1, 2], year: [2020, 2021] } }]);
    d.templates.push({ name: "post", command: "post", node_args: ["location", "year"] });
    d.tasks.push({
      template: "post",
      foreach: { year: [2021, 2020], location: [2] },
      upstream: [{ template: "cell", match: ["year", "location"] }],
    });
    const sub = load(d);
    assert.deepEqual(sub.tasks[4]!.upstream, [3]);
    assert.deepEqual(sub.tasks[5]!.upstream, [2]);
  });

  test("template without match: every task of it (fan-in); duplicates merged and sorted", () => {
    const sub = load(
      doc([
        { template: "agg", foreach: { location: [1, 2, 3] } },
        { template: "all", upstream: ["agg_location-3", { template: "agg" }, "agg_location-1"] },
      ]),
    );
    assert.deepEqual(sub.tasks[3]!.upstream, [0, 1, 2]);
  });

  test("upstream by name may point at a later task", () => {
    const sub = load(
      doc([
        { template: "all", upstream: ["agg_location-1"] },
        { template: "agg", args: { location: 1 } },
      ]),
    );
    assert.deepEqual(sub.tasks[0]!.upstream, [1]);
  });

  test("spec-file.schema.json is the JSON Schema of SpecFileSchema", async () => {
    const schema = specFileJsonSchema();
    assert.ok(SpecFileSchema instanceof z.ZodObject);
    const published = JSON.parse(await readFile(data("../spec-file.schema.json"), "utf8"));
    assert.deepEqual(
      published,
      schema,
      "regenerate spec/spec-file.schema.json from specFileJsonSchema()",
    );
  });

  test("$schema key allowed at the top", () => {
    assert.equal(load(doc([], { $schema: "https://example.org/drover.json" })).tasks.length, 0);
  });
});

describe("rejected with a message naming the task and field", () => {
  test("unknown keys, with their path", () => {
    const e = rejects(
      { ...doc([{ template: "prep", colour: 1, args: { location: 1, year: 1 } }]), extra: 1 },
      /^extra: unknown key$/m,
      /^tasks\[0\]\.colour \(template "prep"\): unknown key$/m,
    );
    assert.equal(e.problems.length, 2);
    const d = doc([]);
    (d.workflow as Record<string, unknown>).bogus = true;
    rejects(d, /^workflow\.bogus: unknown key$/m);
    rejects({ ...doc([]), tool: {} }, /^tool\.name: is required$/m);
  });

  test("wrong types", () => {
    rejects(
      doc([{ template: "prep", args: { location: { a: 1 }, year: 1 } }]),
      /tasks\[0\]\.args\.location \(template "prep"\): expected a string, number or boolean/,
    );
    rejects(
      doc([{ template: "prep", name: "x", max_attempts: 0 }]),
      /tasks\[0\]\.max_attempts \(task "x"\): Too small/,
    );
    rejects(doc([{ template: "agg", foreach: { location: [] } }]), /tasks\[0\]\.foreach\.location/);
  });

  test("unknown template", () => {
    rejects(doc([{ template: "nope", name: "x" }]), /^task "x": unknown template "nope"$/m);
    rejects(
      doc([{ template: "nope", foreach: { a: [1] } }]),
      /^tasks\[0\] \(template "nope"\): unknown template "nope"$/m,
    );
  });

  test("missing and extra args, once per entry", () => {
    rejects(
      doc([{ template: "prep", args: { location: 3 } }]),
      /^task "prep_location-3": arg "year" is missing$/m,
    );
    const e = rejects(
      doc([
        { template: "prep", foreach: { location: [1, 2, 3] }, args: { year: 1, colour: "red" } },
      ]),
      /^tasks\[0\] \(template "prep"\): arg "colour" is not an arg of template "prep"$/m,
    );
    assert.equal(e.total, 1);
    rejects(
      doc([{ template: "agg", foreach: { location: [1], x: [1] } }]),
      /foreach arg "x" is not an arg of template "agg"/,
    );
    rejects(
      doc([{ template: "agg", foreach: { location: [1] }, args: { location: 2 } }]),
      /arg "location" is in both args and foreach/,
    );
  });

  test("duplicate task identity, whatever the task_args; duplicate names", () => {
    rejects(
      doc([
        { template: "prep", args: { location: 1, year: 2020 } },
        { template: "prep", name: "other", args: { location: 1, year: 2021 } },
      ]),
      /^task "other": same template and node_args as task "prep_location-1" \(duplicate task identity\)$/m,
    );
    rejects(
      doc([
        { template: "agg", name: "x", args: { location: 1 } },
        { template: "agg", name: "x", args: { location: 2 } },
      ]),
      /^task "x": name is used by tasks 0 and 1$/m,
    );
    rejects(
      doc([{ template: "agg", name: "x", foreach: { location: [1, 2] } }]),
      /^task "x": a name is given but foreach makes 2 tasks$/m,
    );
  });

  test("upstream name that does not exist", () => {
    rejects(
      doc([{ template: "all", upstream: ["ghost"] }]),
      /^task "all": upstream "ghost" does not exist$/m,
    );
  });

  test("match on an arg a template lacks, unknown template, no match", () => {
    rejects(
      doc([
        { template: "agg", args: { location: 1 } },
        {
          template: "prep",
          args: { location: 1, year: 1 },
          upstream: [{ template: "agg", match: ["year"] }],
        },
      ]),
      /^task "prep_location-1": upstream \{template: "agg", match: \[year\]\}: template "agg" has no arg "year"$/m,
    );
    rejects(
      doc([
        { template: "prep", args: { location: 1, year: 1 } },
        { template: "all", upstream: [{ template: "prep", match: ["location"] }] },
      ]),
      /this task's template "all" has no arg "location"/,
    );
    rejects(
      doc([{ template: "all", upstream: [{ template: "zzz" }] }]),
      /upstream \{template: "zzz"\}: unknown template "zzz"/,
    );
    rejects(
      doc([
        { template: "prep", args: { location: 1, year: 1 } },
        {
          template: "agg",
          foreach: { location: [1, 2] },
          upstream: [{ template: "prep", match: ["location"] }],
        },
      ]),
      /^task "agg_location-2": upstream \{template: "prep", match: \[location\]\} matches no task$/m,
    );
  });

  test("cycles name the tasks on them", () => {
    const e = rejects(
      doc([
        { template: "agg", args: { location: 1 }, upstream: ["agg_location-3"] },
        { template: "agg", args: { location: 2 }, upstream: ["agg_location-1"] },
        { template: "agg", args: { location: 3 }, upstream: ["agg_location-2"] },
        { template: "all", upstream: [{ template: "agg" }] },
      ]),
      /upstream cycle: /,
    );
    for (const n of [1, 2, 3]) assert.match(e.message, new RegExp(`"agg_location-${n}"`));
    assert.doesNotMatch(e.message, /"all"/);
    rejects(
      doc([
        {
          template: "agg",
          args: { location: 1 },
          upstream: [{ template: "agg", match: ["location"] }],
        },
      ]),
      /task "agg_location-1" is its own upstream/,
    );
  });

  test("bad units, at every level", () => {
    const d = doc([
      { template: "agg", name: "a1", args: { location: 1 }, resources: { memory: "12X" } },
    ]);
    d.workflow = { name: "w", default_resources: { runtime: "soon" } } as typeof d.workflow;
    (d.templates[0] as Record<string, unknown>).resources = { memory: 0 };
    (d.templates[1] as Record<string, unknown>).resource_scales = { runtime: ["1h", "x"] };
    const e = rejects(
      d,
      /^task "a1": memory "12X" is not a valid amount \(use e\.g\. 512M, 2G, 1\.5G\)$/m,
      /^workflow default_resources: runtime "soon" is not a valid amount/m,
      /^template "prep": memory "0" must be more than zero$/m,
      /^template "agg": resource_scales: runtime "x" is not a valid amount/m,
    );
    assert.equal(e.problems.length, 4);
  });

  test("bad names", () => {
    const d = doc([{ template: "agg", name: "my task", args: { location: 1 } }]);
    d.tool.name = "1tool";
    d.templates[2]!.name = "al/l";
    rejects(
      d,
      /^tool name "1tool" starts with a digit$/m,
      /^template name "al\/l" contains "\/"/m,
      /^task name "my task" contains whitespace/m,
    );
  });

  test("command placeholder not among the template's args; bad arg names", () => {
    const d = doc([]);
    d.templates[1]!.command = "a {location} {year}";
    d.templates.push({ name: "bad", command: "x", node_args: ["a-b"] });
    rejects(
      d,
      /^template "agg": command placeholder \{year\} is not among the template's args$/m,
      /^template "bad": arg name "a-b" is not valid/m,
    );
  });

  test("invalid documents and files", async () => {
    assert.throws(() => parseSpec("tool: [", "yaml"), /invalid YAML/);
    assert.throws(() => parseSpec("a: 1\na: 2\n", "yaml"), /invalid YAML/);
    assert.throws(() => parseSpec("{", "json"), /invalid JSON/);
    assert.throws(() => parseSpec("[]", "json"), /\(top level\): expected object/);
    await assert.rejects(loadSpecFile(data("nothing.yaml")), /nothing\.yaml: no such file/);
    await assert.rejects(loadSpecFile(data("burden.txt")), /unknown spec file type "\.txt"/);
  });

  test("every problem at once, the message capped", () => {
    const tasks = Array.from({ length: 30 }, (_, i) => ({ template: `nope${i}`, name: `t${i}` }));
    const e = rejects(doc(tasks), /and 10 more$/);
    assert.equal(e.problems.length, 30);
    assert.equal(e.message.split("\n").length, 21);
  });
});
