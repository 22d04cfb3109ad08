// `drover logs` as users run it: subprocesses against a stack started by `drover up`,
// real commands on cluster `local` writing real log files.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Sql } from "postgres";
import { userToken } from "../core/identity.ts";
import { createSql } from "../store/connect.ts";
import { type CliStack, cliStackUp, json } from "./helpers/cli.ts";

let stack: CliStack;
let sql: Sql;

before(() => {
  stack = cliStackUp("drover-logs-");
  sql = createSql(stack.databaseUrl, { max: 2 });
});
after(async () => {
  await sql?.end();
  stack?.down();
});

const drover = (args: string[]) => stack.drover(args);

/** Submits a one-template spec (one task); returns the task's id once bound. */
function submitOne(name: string, command: string, wait: boolean, maxAttempts = 1): number {
  const path = join(stack.home, `${name}.yaml`);
  writeFileSync(
    path,
    JSON.stringify({
      tool: { name: "logs-test" },
      workflow: { name, default_cluster: "local", default_max_attempts: maxAttempts },
      templates: [{ name: "t", command }],
      tasks: [{ template: "t", args: {} }],
    }),
  );
  const r = drover(["submit", path, ...(wait ? ["--wait"] : []), "--json"]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const listed = drover(["tasks", String(json(r).id), "--json"]);
  assert.equal(listed.code, 0, listed.stderr);
  return (json(listed).tasks as { id: number }[])[0]!.id;
}

describe("drover logs", () => {
  let plain: number;
  let retried: number;

  before(() => {
    plain = submitOne("plain", "echo out-1; echo out-2; echo err-1 >&2", true);
    const marker = join(stack.home, "tried-once");
    retried = submitOne(
      "retried",
      `if test -e ${marker}; then echo second try; else touch ${marker}; echo first try; echo boom >&2; exit 3; fi`,
      true,
      3,
    );
  });

  test("prints the latest attempt's stdout, or its stderr", () => {
    const out = drover(["logs", String(plain)]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "out-1\nout-2\n");
    const err = drover(["logs", String(plain), "--stderr"]);
    assert.equal(err.code, 0, err.stderr);
    assert.equal(err.stdout, "err-1\n");
    const doc = json(drover(["logs", String(plain), "--json"]));
    assert.equal(doc.task, plain);
    assert.equal(doc.attempt, 1);
    assert.equal(doc.stream, "stdout");
    assert.equal(doc.content, "out-1\nout-2\n");
  });

  test("--attempt N shows that attempt of a retried task", () => {
    const latest = drover(["logs", String(retried)]);
    assert.equal(latest.code, 0, latest.stderr);
    assert.equal(latest.stdout, "second try\n");
    const first = drover(["logs", String(retried), "--attempt", "1"]);
    assert.equal(first.stdout, "first try\n");
    assert.equal(drover(["logs", String(retried), "--attempt", "1", "--stderr"]).stdout, "boom\n");
    assert.equal(drover(["logs", String(retried), "--attempt", "2"]).stdout, "second try\n");
  });

  test("an unknown task, an attempt the task never had: exit 2 naming the problem", () => {
    const unknown = drover(["logs", "987654"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /task 987654 does not exist/);
    const none = drover(["logs", String(retried), "--attempt", "3", "--json"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /has no attempt 3: it has had 2 attempt\(s\)/);
    assert.match(String(json(none).error), /no attempt 3/);
    assert.equal(drover(["logs", "x"]).code, 2);
    assert.equal(drover(["logs", String(plain), "--follow", "--json"]).code, 2);
  });

  test("a file that is not on this host says where it was written", async () => {
    const [inst] = await sql<{ id: number; stdout_path: string }[]>`
      select id, stdout_path from task_instance where task_id = ${plain}`;
    await sql`update task_instance set node = 'far-node-7', stdout_path = '/nonexistent/x.out'
      where id = ${inst!.id}`;
    try {
      const r = drover(["logs", String(plain)]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /\/nonexistent\/x\.out is not on this host: it was written on far-node-7/,
      );
      // The owner's bridge was asked too, and said why it could not read it either.
      assert.match(
        r.stderr,
        /its owner's bridge could not read it: .* does not exist on this bridge's host/,
      );
    } finally {
      await sql`update task_instance set stdout_path = ${inst!.stdout_path} where id = ${inst!.id}`;
    }
  });

  test("another person's task is refused, naming its owner", async () => {
    const [wf] = await sql<{ id: number; owner: string }[]>`
      select w.id, w.owner from workflow w join task t on t.workflow_id = w.id
      where t.id = ${plain}`;
    await sql`update workflow set owner = ${userToken("someone-else")} where id = ${wf!.id}`;
    try {
      const r = drover(["logs", String(plain)]);
      assert.equal(r.code, 2);
      assert.match(
        r.stderr,
        /logs and environment of task \d+ are private to its owner, someone-else, and admins/,
      );
      assert.equal(r.stdout, "");
    } finally {
      await sql`update workflow set owner = ${wf!.owner} where id = ${wf!.id}`;
    }
  });

  test("--follow waits for the task to start, prints its output as it comes, and ends with it", async () => {
    // The task writes a line, then waits for the test: what --follow printed by then
    // came while the task was running, not at its end.
    const go = join(stack.home, "go");
    const task = submitOne(
      "slow",
      `echo line-1; while ! test -e ${go}; do sleep 0.1; done; for i in 2 3 4; do echo line-$i; sleep 0.2; done; echo done >&2`,
      false,
    );
    const child = stack.start(["logs", String(task), "--follow"]);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d;
    });
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    for (let i = 0; !stdout.includes("line-1"); i++) {
      assert.ok(i < 1200, `nothing followed in 120 s: ${JSON.stringify({ stdout, stderr })}`);
      assert.equal(child.exitCode, null, `--follow ended early: ${stderr}`);
      await sleep(100);
    }
    writeFileSync(go, "");
    const code = await closed;
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "line-1\nline-2\nline-3\nline-4\n");
  });

  test("--follow on a task that never started and never will: exit 2 naming why", () => {
    const path = join(stack.home, "blocked.yaml");
    writeFileSync(
      path,
      JSON.stringify({
        tool: { name: "logs-test" },
        workflow: { name: "blocked", default_cluster: "local", default_max_attempts: 1 },
        templates: [
          { name: "first", command: "exit 3" },
          { name: "second", command: "echo never" },
        ],
        tasks: [
          { template: "first", args: {} },
          { template: "second", args: {}, upstream: [{ template: "first" }] },
        ],
      }),
    );
    const submitted = drover(["submit", path, "--wait", "--json"]);
    assert.equal(submitted.code, 1, submitted.stderr);
    const tasks = json(drover(["tasks", String(json(submitted).id), "--json"])).tasks as {
      id: number;
      template: string;
    }[];
    const second = tasks.find((t) => t.template === "second")!;
    const r = drover(["logs", String(second.id), "--follow"]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`task ${second.id} has not started and will not: its workflow \\d+ is FAILED`),
    );
  });
});
