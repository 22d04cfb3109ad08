import assert from "node:assert/strict";
import { test } from "node:test";
import { DagReader, dagLines } from "./dag.ts";
import { submissionHashes } from "./hash.ts";
import { parseSpec } from "./load.ts";

/**
 * A guard against quadratic behaviour, not a benchmark: 200,000 tasks from one foreach
 * (200 × 1000) plus match upstream must load, serialize and read back quickly.
 */
test("200,000 tasks load, serialize and read back in linear time", () => {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const doc = {
    tool: { name: "scale" },
    workflow: { name: "scale" },
    templates: [
      { name: "prep", command: "p {location} {year}", node_args: ["location", "year"] },
      { name: "agg", command: "a {location}", node_args: ["location"] },
    ],
    tasks: [
      { template: "prep", foreach: { location: range(200), year: range(1000) } },
      {
        template: "agg",
        foreach: { location: range(200) },
        upstream: [{ template: "prep", match: ["location"] }],
      },
    ],
  };
  const text = JSON.stringify(doc);
  const t0 = performance.now();
  const sub = parseSpec(text, "json");
  const t1 = performance.now();
  const reader = new DagReader();
  let bytes = 0;
  for (const line of dagLines(sub)) {
    bytes += line.length + 1;
    reader.add(JSON.parse(line));
  }
  const summary = reader.finish();
  const t2 = performance.now();
  const hashes = submissionHashes(sub);
  const t3 = performance.now();
  assert.equal(summary.taskCount, 200_200);
  assert.equal(summary.edgeCount, 200_000);
  assert.equal(summary.dagHash, hashes.dagHash);
  console.log(
    `200,200 tasks, 200,000 edges: load+validate ${Math.round(t1 - t0)} ms, ` +
      `serialize+read ${Math.round(t2 - t1)} ms (${(bytes / 1e6).toFixed(0)} MB), hashes ${Math.round(t3 - t2)} ms`,
  );
  assert.ok(t2 - t0 < 10_000, "far slower than linear");
});
