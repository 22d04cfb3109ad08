// Large resources in spec files: loaded to a validated Submission, then through the DAG
// wire format as the binder reads it. Memory is bytes (a bigint column), runtime seconds
// (an int), cores a smallint. client/settings.test.ts does the same with the client.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DagReader, dagLines, type TaskLine } from "./dag.ts";
import { SpecError } from "./errors.ts";
import { parseSpec } from "./load.ts";
import type { Catalog } from "./resolve.ts";
import type { Submission } from "./submission.ts";
import { validateSubmission } from "./validate.ts";

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

export function spec(templates: unknown[], tasks: unknown[]): Submission {
  const doc = { tool: { name: "big" }, workflow: { name: "big", default_cluster: "dummy" } };
  return parseSpec(JSON.stringify({ ...doc, templates, tasks }), "json", { catalog });
}

/** The task lines as the binder's reader accepts them (zod and the catalog checks). */
function throughDag(sub: Submission): TaskLine[] {
  const reader = new DagReader({ workflow: sub.workflow, catalog });
  const tasks: TaskLine[] = [];
  for (const text of dagLines(sub)) {
    const line = reader.add(JSON.parse(text));
    if (line.kind === "task") tasks.push(line);
  }
  reader.finish();
  return tasks;
}

function rejects(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe("memory scales of 2 GiB and more", () => {
  test("bare numbers are GiB: [4, 8, 16] is 4, 8 and 16 GiB in bytes", () => {
    const sub = spec(
      [{ name: "fit", command: "fit", resource_scales: { memory: [4, 8, 16] } }],
      [{ template: "fit" }],
    );
    assert.deepEqual(sub.templates[0]!.resource_scales, { memory: [4 * G, 8 * G, 16 * G] });
    const [template] = [...dagLines(sub)].map((l) => JSON.parse(l));
    assert.deepEqual(template.resource_scales, { memory: [4 * G, 8 * G, 16 * G] });
    assert.equal(throughDag(sub).length, 1);
  });

  test('units: ["4G", "8G", "1T"] and runtimes up to 30 days', () => {
    const sub = spec(
      [
        {
          name: "fit",
          command: "fit",
          resource_scales: { memory: ["4G", "8G", "1T"], runtime: ["2d", "30d"] },
        },
      ],
      [{ template: "fit" }],
    );
    assert.deepEqual(sub.templates[0]!.resource_scales, {
      memory: [4 * G, 8 * G, T],
      runtime: [2 * DAY, 30 * DAY],
    });
  });

  test("amounts past what each column holds are refused, naming the template and field", () => {
    rejects(
      () =>
        spec(
          [{ name: "fit", command: "fit", resource_scales: { memory: [4, "10000T"] } }],
          [{ template: "fit" }],
        ),
      /template "fit": resource_scales: memory "10000T" is too large/,
    );
    rejects(
      () =>
        spec(
          [{ name: "fit", command: "fit", resource_scales: { runtime: ["100000d"] } }],
          [{ template: "fit" }],
        ),
      /template "fit": resource_scales: runtime "100000d" is too large \(at most 2147483647 seconds\)/,
    );
    // A Submission built by hand (not through the units) is checked as well.
    const sub = spec([{ name: "fit", command: "fit" }], [{ template: "fit" }]);
    sub.templates[0]!.resource_scales = { memory: [4 * G, 2 ** 53], runtime: [2 ** 31] };
    rejects(
      () => validateSubmission(sub, catalog),
      /template "fit": resource_scales memory 9007199254740992 must be at most 9007199254740991/,
      /template "fit": resource_scales runtime 2147483648 must be at most 2147483647/,
    );
  });
});

describe("1 TiB of memory, 30 days, 256 cores", () => {
  const big = { memory: "1T", runtime: "30d", cores: 256 };
  const expected = { cores: 256, memory_bytes: T, runtime_seconds: 30 * DAY };

  test("from a spec file: loaded, fitted to long.q, and read back from the DAG", () => {
    const sub = spec(
      [{ name: "sim", command: "sim", fallback_queues: ["long.q"] }],
      [{ template: "sim", resources: big }],
    );
    assert.deepEqual(sub.tasks[0]!.resources, expected);
    const [line] = throughDag(sub);
    assert.deepEqual(line!.resources, expected);
  });

  test("each fits no queue without long.q, and the message says which limit", () => {
    rejects(
      () => spec([{ name: "sim", command: "sim" }], [{ template: "sim", resources: big }]),
      /task "sim": resources fit no allowed queue of cluster "dummy" \(all\.q: runtime 30d > 1d\)/,
    );
    rejects(
      () =>
        spec(
          [{ name: "sim", command: "sim" }],
          [{ template: "sim", resources: { memory: "2T", cores: 2048 } }],
        ),
      /all\.q: cores 2048 > 1024, memory 2T > 1T/,
    );
  });
});
