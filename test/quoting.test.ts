// {arg:q} end to end: a value that would be a shell command if inserted as written runs
// as one argument of the task's command, on the local backend; {arg} stays verbatim.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startTestStack, type TestStack } from "./helpers/stack.ts";

let stack: TestStack;
const dir = mkdtempSync(join(tmpdir(), "drover-quoting-"));

before(async () => {
  stack = await startTestStack({ slots: 2 });
});
after(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a hostile arg value quoted with {arg:q} is one argument, not a command", async () => {
  const probe = join(dir, "pwned");
  const out = join(dir, "out.txt");
  const hostile = `1; touch ${probe} #`;
  const end = await stack.run({
    tool: { name: "quoting", version: "1" },
    workflow: {
      name: "quoting",
      default_cluster: "local",
      default_max_attempts: 1,
      fail_fast: false,
    },
    templates: [
      {
        name: "echo",
        command: `printf '%s\\n' {loc:q} > ${out}`,
        node_args: ["loc"],
        task_args: [],
        op_args: [],
      },
    ],
    tasks: [{ template: "echo", name: "echo_1", args: { loc: hostile }, upstream: [] }],
  });
  assert.equal(end.status, "DONE");
  assert.equal(readFileSync(out, "utf8"), `${hostile}\n`);
  assert.equal(existsSync(probe), false, "the value ran as a command");
  const [task] = await stack.sql<{ command: string }[]>`
    select command from task where workflow_id = ${end.id}`;
  assert.equal(task!.command, `printf '%s\\n' '1; touch ${probe} #' > ${out}`);
});
