import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadSpecFile, parseSpec } from "./load.ts";
import { doc, rejects } from "./testdata/fixtures.ts";

const data = (name: string) => fileURLToPath(new URL(`testdata/${name}`, import.meta.url));

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
      /tasks\[0\]\.max_attempts \(task "x"\): must be a whole number of at least 1$/m,
    );
    rejects(doc([{ template: "agg", foreach: { location: [] } }]), /tasks\[0\]\.foreach\.location/);
    rejects(
      doc([{ template: "prep", name: "x", max_attempts: 5000, resources: { cores: 40000 } }]),
      /tasks\[0\]\.max_attempts \(task "x"\): must be at most 1000$/m,
      /tasks\[0\]\.resources\.cores \(task "x"\): must be at most 32767$/m,
    );
    rejects(
      doc([{ template: "prep", name: "x", resources: { runtime: "100000d" } }]),
      /runtime "100000d" is too large \(at most 2147483647 seconds\)/,
    );
  });

  test("unknown template", () => {
    rejects(doc([{ template: "nope", name: "x" }]), /^task "x": unknown template "nope"$/m);
    rejects(
      doc([{ template: "nope", foreach: { a: [1] } }]),
      /^tasks\[0\] \(template "nope"\): unknown template "nope"$/m,
    );
    rejects(
      doc([{ template: "perp", name: "x" }]),
      /^task "x": unknown template "perp" \(did you mean "prep"\?\)$/m,
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
