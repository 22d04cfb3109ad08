// The examples are runnable and say the same thing: the spec file and the TypeScript
// client build the same workflow, and it runs to DONE with its flaky task retried.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadSpecFile } from "../submission/load.ts";
import { startTestStack, type TestStack } from "../test/helpers/stack.ts";
import { burdenWorkflow } from "./burden.ts";

let stack: TestStack;
before(async () => {
  stack = await startTestStack({ slots: 4 });
});
after(async () => {
  await stack.stop();
});

test("burden.yaml and burden.ts build the same submission", async () => {
  const fromYaml = await loadSpecFile("examples/burden.yaml");
  const fromTs = burdenWorkflow().toSubmission();
  assert.deepEqual(fromTs, fromYaml);
  assert.equal(fromYaml.tasks.length, 97);
});

test("the burden example runs to DONE; the flaky model run fails once and is retried", {
  timeout: 180_000,
}, async () => {
  const out = mkdtempSync(join(tmpdir(), "drover-example-"));
  const end = await stack.run(burdenWorkflow(out).toSubmission(), { timeoutMs: 170_000 });
  assert.equal(end.status, "DONE");
  assert.equal(end.counts.DONE, 97);
  const retried = await stack.sql<{ name: string; attempts: number }[]>`
    select name, attempts from task where workflow_id = ${end.id} and attempts > 1`;
  assert.deepEqual(
    retried.map((r) => [r.name, r.attempts]),
    [["model_location-7_year-2021", 2]],
  );
  assert.ok(existsSync(join(out, "report.csv")));
  assert.equal(readFileSync(join(out, "report.csv"), "utf8").trim().split("\n").length, 1 + 72);
});
