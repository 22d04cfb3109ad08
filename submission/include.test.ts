import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { stringify } from "yaml";
import { loadSpecFile } from "./load.ts";
import { resolveResources } from "./resolve.ts";
import { doc } from "./testdata/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "drover-include-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const M = 1024 ** 2;
const G = 1024 ** 3;

/** Writes `files` (name → document, as YAML or JSON by extension) and loads spec.yaml. */
function load(files: Record<string, unknown>) {
  const at = mkdtempSync(join(dir, "case-"));
  for (const [name, d] of Object.entries(files)) {
    const path = join(at, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, name.endsWith(".json") ? JSON.stringify(d) : stringify(d));
  }
  return loadSpecFile(join(at, "spec.yaml"));
}

const tasks = [
  { template: "prep", name: "prep_plain", args: { location: 1, year: 2020 } },
  {
    template: "prep",
    name: "prep_own",
    args: { location: 2, year: 2020 },
    resources: { memory: "8G" },
  },
  { template: "all", args: {} },
];

describe("template_resources and include", () => {
  test("precedence: workflow < template < included < the spec's own < task, field by field", async () => {
    const spec = doc(tasks, {
      workflow: { name: "w", default_resources: { cores: 2, memory: "1G", runtime: "10m" } },
      include: ["suggested/first.yaml", "second.json"],
      template_resources: { prep: { runtime: "2h" } },
    });
    const templates: Record<string, unknown>[] = spec.templates;
    templates[0] = { ...templates[0], resources: { memory: "2G", queue: "all.q" } };
    const sub = await load({
      "spec.yaml": spec,
      "suggested/first.yaml": {
        template_resources: {
          prep: { memory: "3G", runtime: "1h", cores: 3 },
          all: { memory: "5G" },
        },
      },
      "second.json": { template_resources: { prep: { memory: "768M" } } },
    });
    const byName = (name: string) =>
      resolveResources(
        sub,
        sub.tasks.findIndex((t) => t.name === name),
      );
    // memory: the later include; runtime: the spec's own; cores: the first include;
    // queue: the template's own (no suggestion names one).
    assert.deepEqual(byName("prep_plain"), {
      cores: 3,
      memory_bytes: 768 * M,
      runtime_seconds: 7200,
      queue: "all.q",
    });
    assert.equal(byName("prep_own").memory_bytes, 8 * G, "a task's own resources win");
    assert.deepEqual(byName("all"), { cores: 2, memory_bytes: 5 * G, runtime_seconds: 600 });
  });

  test("template_resources without include", async () => {
    const sub = await load({
      "spec.yaml": doc(tasks, { template_resources: { all: { memory: "512M" } } }),
    });
    assert.equal(sub.templates.find((t) => t.name === "all")!.resources?.memory_bytes, 512 * M);
  });

  test("an unknown template is an error naming it, where it came from, and the templates", async () => {
    await assert.rejects(
      load({
        "spec.yaml": doc(tasks, { include: ["r.yaml"], template_resources: { nope: {} } }),
        "r.yaml": { template_resources: { gone: { memory: "1G" } } },
      }),
      (err: Error) => {
        assert.match(
          err.message,
          /template_resources\.gone \(from r\.yaml\): unknown template "gone"/,
        );
        assert.match(err.message, /template_resources\.nope: unknown template "nope"/);
        assert.match(err.message, /templates: agg, all, cell, prep/);
        return true;
      },
    );
  });

  test("a missing file, a key other than template_resources, a bad amount: each named", async () => {
    await assert.rejects(
      load({ "spec.yaml": doc(tasks, { include: ["missing.yaml"] }) }),
      /include "missing\.yaml": no such file/,
    );
    await assert.rejects(
      load({
        "spec.yaml": doc(tasks, { include: ["r.yaml"] }),
        "r.yaml": { template_resources: { all: { memory: "lots" } }, tasks: [] },
      }),
      (err: Error) => {
        assert.match(err.message, /include "r\.yaml": tasks: unknown key/);
        return true;
      },
    );
    await assert.rejects(
      load({
        "spec.yaml": doc(tasks, { include: ["r.yaml"] }),
        "r.yaml": { template_resources: { all: { memory: "lots" } } },
      }),
      /template_resources\.all \(from r\.yaml\): memory "lots" is not a valid amount/,
    );
    await assert.rejects(
      load({ "spec.yaml": doc(tasks, { include: ["r.txt"] }), "r.txt": {} }),
      /include "r\.txt": .*unknown spec file type "\.txt"/,
    );
  });
});
