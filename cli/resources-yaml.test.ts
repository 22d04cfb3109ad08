import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import type { ResourcesAnswer, UsageStats } from "../bus/queries.ts";
import { loadSpecFile } from "../submission/load.ts";
import { resourcesYaml } from "./resources-yaml.ts";

const M = 1024 ** 2;

function stats(min: number, mean: number, max: number): UsageStats {
  return { min, max, mean, median: mean, p90: max, p95: max };
}

const none: UsageStats = { min: null, max: null, mean: null, median: null, p90: null, p95: null };

const answer: ResourcesAnswer = {
  workflow: 12,
  templates: [
    {
      template: "model",
      done: 3,
      memory: {
        measured: 3,
        used: stats(100 * M, 200 * M, 310 * M),
        requested: { min: M, max: M },
      },
      runtime: { measured: 3, used: stats(2, 50, 3700), requested: { min: 60, max: 60 } },
      cores: 2,
      queue: "long.q",
    },
    {
      template: "report",
      done: 0,
      memory: { measured: 0, used: none, requested: { min: null, max: null } },
      runtime: { measured: 0, used: none, requested: { min: null, max: null } },
      cores: null,
      queue: null,
    },
  ],
};

describe("resources --yaml", () => {
  test("the chosen statistic × 1.2, rounded up to 256M and to minutes (5 past an hour)", () => {
    const doc = (strategy: "max" | "avg" | "min") =>
      parse(resourcesYaml(answer, strategy)).template_resources;
    // 310M × 1.2 = 372M → 512M; 3700 s × 1.2 = 4440 s → 4500 s = 75 minutes
    assert.deepEqual(doc("max"), {
      model: { memory: "512M", runtime: "75m", cores: 2, queue: "long.q" },
    });
    // 200M × 1.2 = 240M → 256M; 50 s × 1.2 = 60 s → 1m
    assert.deepEqual(doc("avg").model, {
      memory: "256M",
      runtime: "1m",
      cores: 2,
      queue: "long.q",
    });
    // at least one step: 120M → 256M, 2.4 s → 1m
    assert.deepEqual(doc("min").model, {
      memory: "256M",
      runtime: "1m",
      cores: 2,
      queue: "long.q",
    });
  });

  test("a template without a DONE instance is a comment, not a guess", () => {
    const text = resourcesYaml(answer, "max");
    assert.match(text, /^ {2}# report: no DONE instance, nothing suggested$/m);
    assert.match(text, /^ {2}model: {2}# 3 DONE; max used: memory 310M, runtime 3700\.0s$/m);
    assert.ok(!("report" in parse(text).template_resources));
    const empty = resourcesYaml({ workflow: 12, templates: answer.templates.slice(1) }, "max");
    assert.deepEqual(parse(empty), { template_resources: {} }, "a map, never null");
  });

  test("a spec file includes it as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drover-yaml-"));
    try {
      writeFileSync(join(dir, "resources.yaml"), resourcesYaml(answer, "max"));
      writeFileSync(
        join(dir, "spec.yaml"),
        `tool: { name: t }
workflow: { name: w }
include: [resources.yaml]
templates:
  - { name: model, command: "run", resources: { memory: 100M } }
  - { name: report, command: "report" }
tasks:
  - { template: model }
  - { template: report }
`,
      );
      const sub = await loadSpecFile(join(dir, "spec.yaml"));
      assert.deepEqual(sub.templates[0]!.resources, {
        memory_bytes: 512 * M,
        runtime_seconds: 4500,
        cores: 2,
        queue: "long.q",
      });
      assert.equal(sub.templates[1]!.resources, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
