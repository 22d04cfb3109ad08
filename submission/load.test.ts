import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { loadSpecFile, SpecFileSchema, specFileJsonSchema } from "./load.ts";
import { doc, load } from "./testdata/fixtures.ts";

const data = (name: string) => fileURLToPath(new URL(`testdata/${name}`, import.meta.url));
const G = 1024 ** 3;

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
      "regenerate submission/spec-file.schema.json from specFileJsonSchema()",
    );
  });

  test("$schema key allowed at the top", () => {
    assert.equal(load(doc([], { $schema: "https://example.org/drover.json" })).tasks.length, 0);
  });
});
