// The Python client against a real stack: its unittest suites (clients/python/tests) run
// in a venv where the package is installed as users install it, with DROVER_CLI set to
// this checkout's CLI. The stack (test/helpers/stack.ts) runs in this process, so every
// Python and CLI process is spawned asynchronously. Here too: the same DAG from Python,
// TypeScript and YAML stores the same hashes, and examples/fork_join.py runs.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import type { NatsConnection } from "../../bus/connect.ts";
import { submitWorkflow, Tool } from "../../client/index.ts";
import type { SlurmBridge } from "../../slurm-bridge/bridge.ts";
import { collectOutput } from "../../test/helpers/output.ts";
import { slurmSkip, startStackSlurmBridge } from "../../test/helpers/slurm.ts";
import { startTestStack, type TestStack } from "../../test/helpers/stack.ts";
import { venvWithDrover } from "./venv.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const TESTS = join(ROOT, "clients/python/tests");

let dir: string;
let python: string;
let stack: TestStack;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pythonEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DROVER_CLI: `${process.execPath} ${join(ROOT, "bin/drover.mjs")}`,
    DROVER_NATS_URL: stack.nats.url,
    DROVER_DATABASE_URL: stack.db.url,
    DROVER_HOME: dir,
    DROVER_LOG_LEVEL: "warn",
    PYTHONDONTWRITEBYTECODE: "1",
  };
}

/** A process of the test, spawned asynchronously: the stack runs in this process. */
async function exec(
  command: string,
  args: string[],
  cwd = TESTS,
  timeoutMs = 300_000,
): Promise<Run> {
  const child = spawn(command, args, { cwd, env: pythonEnv(), stdio: ["ignore", "pipe", "pipe"] });
  // SIGINT first: Python's KeyboardInterrupt kills the drover command it waits on.
  const timers = [
    setTimeout(() => child.kill("SIGINT"), timeoutMs),
    setTimeout(() => child.kill("SIGKILL"), timeoutMs + 10_000),
  ];
  const { status, ...output } = await collectOutput(child).finally(() => {
    for (const t of timers) clearTimeout(t);
  });
  return { code: status, ...output };
}

const runPython = (args: string[], cwd = TESTS, timeoutMs?: number) =>
  exec(python, args, cwd, timeoutMs);

/** Runs unittest modules; every test must run and pass (a skip is a failure here). */
async function unittest(modules: string[], timeoutMs?: number): Promise<void> {
  const r = await runPython(["-m", "unittest", "-v", ...modules], TESTS, timeoutMs);
  const report = r.stderr.trim();
  assert.equal(r.code, 0, report);
  assert.match(report, /\nRan [1-9]\d* tests? in /, report);
  assert.match(report, /\nOK$/, `not every test ran:\n${report}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "drover-python-"));
  [python, stack] = await Promise.all([venvWithDrover(dir), startTestStack({ slots: 4 })]);
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("building workflows, Jobmon's arguments mapped and refused (no stack)", async () => {
  await unittest(["test_spec", "test_refused"], 60_000);
});

test("fork-join on local: resources, retries, a failure, resume, timeout, concurrency", async () => {
  await unittest(["test_local"]);
});

describe("on the real Slurm", { skip: slurmSkip }, () => {
  let nc: NatsConnection;
  let bridge: SlurmBridge;

  before(async () => {
    ({ nc, bridge } = await startStackSlurmBridge(
      stack,
      "python-slurm-bridge",
      join(dir, "slurm"),
      {
        pollSeconds: 1,
        maxPollSeconds: 3,
      },
    ));
  });
  after(async () => {
    await bridge?.stop();
    await nc?.drain();
  });

  // The Slurm node may be busy with other jobs: minutes, not seconds, to be safe.
  test("fork-join on slurm: array jobs, a retry, a failure, then resume", async () => {
    await unittest(["test_slurm"], 600_000);
  });
});

describe("identity across languages", () => {
  // Values whose default task names need care: spaces, non-ASCII, whitespace other than
  // a space, and a name cut at 255 characters in the middle of a surrogate pair.
  const locations: (number | string)[] = [
    1,
    2,
    "New York",
    "São Paulo",
    "a\u3000b\u00a0c",
    `${"x".repeat(222)}😀${"y".repeat(40)}`,
  ];

  async function yamlWorkflow(): Promise<number> {
    const list = locations.map((l) => JSON.stringify(l)).join(", ");
    const file = join(dir, "identity.yaml");
    writeFileSync(
      file,
      `tool: { name: identity }
workflow: { name: identity, args: { lang: yaml }, default_cluster: dummy }
templates:
  - { name: prep, command: "prep --year {year} --out {out}", task_args: [year], op_args: [out] }
  - { name: model, command: "model --loc {location} --year {year}", node_args: [location], task_args: [year] }
  - { name: summary, command: "summary --out {out}", op_args: [out] }
tasks:
  - { template: prep, args: { year: 2020, out: /data/yaml } }
  - { template: model, foreach: { location: [${list}] }, args: { year: 2020 }, upstream: [{ template: prep }] }
  - { template: summary, args: { out: /data/yaml }, upstream: [{ template: model }] }
`,
    );
    const r = await exec(process.execPath, [
      join(ROOT, "bin/drover.mjs"),
      "submit",
      file,
      "--hold",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { id: number }).id;
  }

  async function typescriptWorkflow(): Promise<number> {
    const tool = new Tool("identity");
    const prep = tool.template({
      name: "prep",
      command: "prep --year {year} --out {out}",
      taskArgs: ["year"],
      opArgs: ["out"],
    });
    const model = tool.template({
      name: "model",
      command: "model --loc {location} --year {year}",
      nodeArgs: ["location"],
      taskArgs: ["year"],
    });
    const summary = tool.template({
      name: "summary",
      command: "summary --out {out}",
      opArgs: ["out"],
    });
    const wf = tool.workflow({ name: "identity", args: { lang: "ts" }, defaultCluster: "dummy" });
    const p = prep.createTask({ args: { year: 2020, out: "/data/ts" } });
    const models = model.createTasks({ foreach: { location: locations }, args: { year: 2020 } });
    for (const m of models) m.addUpstream(p);
    wf.addTasks([
      p,
      ...models,
      summary.createTask({ args: { out: "/data/ts" }, upstream: models }),
    ]);
    const bound = await submitWorkflow(stack.nc, wf.toSubmission(), { hold: true });
    return bound.workflow_id;
  }

  async function pythonWorkflow(run = false): Promise<{ id: number; status: string }> {
    const options = JSON.stringify({ lang: "python", locations, run });
    const r = await runPython([join(TESTS, "identity_dag.py"), options]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { id: number; status: string };
  }

  let bound: number | undefined;

  test("the same DAG from Python, TypeScript and YAML: the same task hashes, names and DAG hash", async () => {
    const [yaml, ts, py] = await Promise.all([
      yamlWorkflow(),
      typescriptWorkflow(),
      pythonWorkflow(),
    ]);
    assert.equal(py.status, "G", "bind() holds the workflow: REGISTERING");
    bound = py.id;
    const rows = await stack.sql<{ id: number; dag_hash: string; taskset_hash: string }[]>`
      select id, dag_hash, taskset_hash from workflow where id = any(${[yaml, ts, py.id]})`;
    assert.equal(rows.length, 3);
    assert.equal(new Set(rows.map((r) => `${r.dag_hash}/${r.taskset_hash}`)).size, 1, "one DAG");
    const tasks = async (id: number) =>
      stack.sql<{ name: string; hash: string }[]>`
        select name, hash from task where workflow_id = ${id} order by hash`;
    const [y, t, p] = await Promise.all([tasks(yaml), tasks(ts), tasks(py.id)]);
    assert.equal(y.length, locations.length + 2);
    assert.deepEqual(t, y, "TypeScript = YAML");
    assert.deepEqual(p, y, "Python = YAML");
  });

  test("bound by one process, run by the next; DONE, run again: the same workflow, nothing runs", async () => {
    const first = await pythonWorkflow(true);
    assert.deepEqual(first, { id: bound ?? first.id, status: "D" });
    const count = async () =>
      (
        await stack.sql<{ n: number }[]>`
          select count(*)::int as n from task_instance where workflow_id = ${first.id}`
      )[0]!.n;
    const before = await count();
    assert.equal(before, locations.length + 2, "each task ran once");
    const again = await pythonWorkflow(true);
    assert.deepEqual(again, first);
    assert.equal(await count(), before, "no new task instance");
  });
});

test("examples/fork_join.py runs to DONE, its flaky location retried", async () => {
  const out = join(dir, "fork-join-example");
  const r = await runPython([join(ROOT, "examples/fork_join.py"), out, "--locations", "6"], ROOT);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const id = Number(/workflow (\d+): D/.exec(r.stdout)?.[1]);
  const retried = await stack.sql<{ name: string; attempts: number }[]>`
    select name, attempts from task where workflow_id = ${id} and attempts > 1`;
  assert.deepEqual(
    retried.map((x) => [x.name, x.attempts]),
    [["location_location-4", 2]],
  );
  const summary = readFileSync(join(out, "summary.csv"), "utf8").trim().split("\n");
  assert.equal(summary.length, 1 + 6);
});
