// The CLI as users run it: a subprocess, exit codes, --json shapes (SPEC.md §2), against
// a stack started by `drover up` on a machine where the configured NATS and Postgres do
// not answer (private ones are started in a directory of this test's own).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

const home = mkdtempSync(join(tmpdir(), "drover-cli-"));
chmodSync(home, 0o755); // the private Postgres runs as the postgres user
const env = {
  ...process.env,
  DROVER_HOME: home,
  DROVER_SERVICES_DIR: join(home, "services"),
  DROVER_NATS_URL: "nats://127.0.0.1:1",
  DROVER_DATABASE_URL: "postgres://postgres@127.0.0.1:1/drover",
  DROVER_LOG_LEVEL: "warn",
};

function drover(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["bin/drover.mjs", ...args], {
    env: { ...env, ...extraEnv },
    encoding: "utf8",
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(r: { stdout: string }): Record<string, unknown> {
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const spec = join(home, "spec.yaml");
writeFileSync(
  spec,
  `tool: { name: cli_test }
workflow: { name: cli test, default_cluster: local }
templates:
  - { name: prep, command: "echo prep {loc}", node_args: [loc] }
  - { name: report, command: "echo report >&2" }
tasks:
  - { template: prep, foreach: { loc: [1, 2, 3] } }
  - { template: report, upstream: [{ template: prep }] }
`,
);
const STATUSES = [
  "REGISTERING",
  "QUEUED",
  "INSTANTIATING",
  "LAUNCHED",
  "RUNNING",
  "DONE",
  "ERROR_RECOVERABLE",
  "ADJUSTING_RESOURCES",
  "ERROR_FATAL",
];

describe("drover CLI", { timeout: 300_000 }, () => {
  before(() => {
    const up = drover(["up", "--json"]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(String(json(up).nats_url), /^nats:\/\/127\.0\.0\.1:\d+$/);
    // Once up, commands find the stack through its file, whatever the environment says.
  });
  after(() => {
    const down = drover(["down", "--json"]);
    rmSync(home, { recursive: true, force: true });
    assert.equal(down.code, 0, down.stderr);
  });

  test("submit --wait --json runs a spec file to DONE and prints the final status", () => {
    const r = drover(["submit", spec, "--wait", "--json"], {
      DROVER_NATS_URL: "",
      DROVER_DATABASE_URL: "",
    });
    assert.equal(r.code, 0, r.stderr);
    const out = json(r);
    assert.deepEqual(Object.keys(out), ["id", "name", "status", "total", "counts"]);
    assert.equal(out.status, "DONE");
    assert.equal(out.total, 4);
    assert.deepEqual(Object.keys(out.counts as object), STATUSES);
    assert.equal((out.counts as Record<string, number>).DONE, 4);
    assert.equal(typeof out.id, "number");

    const noWait = (args: string[]) =>
      drover(args, { DROVER_NATS_URL: "", DROVER_DATABASE_URL: "" });
    const status = noWait(["status", String(out.id), "--json"]);
    assert.equal(status.code, 0);
    assert.deepEqual(json(status), out);

    const tasks = noWait(["tasks", String(out.id), "--json"]);
    assert.equal(tasks.code, 0);
    const list = json(tasks).tasks as {
      id: number;
      name: string;
      template: string;
      status: string;
      attempts: number;
    }[];
    assert.equal(json(tasks).workflow, out.id);
    assert.equal(list.length, 4);
    assert.deepEqual(Object.keys(list[0]!), ["id", "name", "template", "status", "attempts"]);
    assert.ok(list.every((t) => t.status === "DONE" && t.attempts === 1));

    const report = list.find((t) => t.name === "report")!;
    const task = noWait(["task", String(report.id), "--json"]);
    assert.equal(task.code, 0);
    const detail = json(task);
    assert.deepEqual(Object.keys(detail), [
      "id",
      "name",
      "workflow",
      "status",
      "attempts",
      "command",
      "instances",
    ]);
    const instances = detail.instances as Record<string, unknown>[];
    assert.equal(instances.length, 1);
    assert.deepEqual(Object.keys(instances[0]!), [
      "id",
      "status",
      "exit_code",
      "distributor_id",
      "memory_requested",
      "memory_used",
      "runtime_used",
      "stdout",
      "stderr",
      "error",
    ]);
    assert.equal(instances[0]!.exit_code, 0);

    const errors = noWait(["errors", String(out.id), "--json"]);
    assert.equal(errors.code, 0);
    assert.deepEqual(json(errors), { errors: [] });
  });

  test("an invalid spec file: exit 2, the problem named, JSON error, nothing submitted", () => {
    const bad = join(home, "bad.yaml");
    writeFileSync(
      bad,
      `tool: { name: cli_test }
workflow: { name: bad }
templates:
  - { name: prep, command: "echo {loc}", node_args: [loc] }
tasks:
  - { template: prep, args: { loc: 1, year: 2 } }
  - { template: nope, args: {} }
`,
    );
    const r = drover(["submit", bad, "--json"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /year/);
    assert.match(r.stderr, /nope/);
    assert.match(String(json(r).error), /year/);
  });

  test("bad usage and unknown ids exit 2 with a message naming the problem", () => {
    const cases: [string[], RegExp][] = [
      [["status", "abc"], /WF must be a positive whole number/],
      [["status"], /missing WF/],
      [["status", "999999", "--json"], /workflow 999999 does not exist/],
      [["task", "999999"], /task 999999 does not exist/],
      [["tasks", "1", "--status", "SLEEPING"], /unknown task status/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["submit", join(home, "missing.yaml")], /missing\.yaml: no such file/],
      [["submit", spec, "--bogus"], /--bogus/],
    ];
    for (const [args, message] of cases) {
      const r = drover(args, { DROVER_NATS_URL: "", DROVER_DATABASE_URL: "" });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
    }
  });

  test("every command has --help with an example", () => {
    for (const c of ["submit", "status", "tasks", "task", "errors", "up", "down", "migrate"]) {
      const r = drover([c, "--help"]);
      assert.equal(r.code, 0, c);
      assert.match(r.stdout, /Example/, c);
    }
  });
});
