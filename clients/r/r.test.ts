// The R package `drover` (clients/r) against a real Drover: it is installed into a
// temporary library with R CMD INSTALL, a stack runs in this process (every function,
// the local bridge, and the slurm-bridge on the real Slurm), and the package's testthat
// files run in Rscript with DROVER_CLI pointing at bin/drover.mjs. R runs as a child
// process spawned asynchronously: this process's handlers serve it meanwhile.
//
// Nothing is skipped quietly: a missing R fails the test (deploy/local/r.sh installs
// it), and a testthat file that skips anything fails too.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "../../bus/connect.ts";
import { burdenWorkflow } from "../../examples/burden.ts";
import type { SlurmBridge } from "../../slurm-bridge/bridge.ts";
import { loadSpecFile } from "../../submission/load.ts";
import { collectOutput } from "../../test/helpers/output.ts";
import { slurmSkip, startStackSlurmBridge } from "../../test/helpers/slurm.ts";
import { startTestStack, type TestStack } from "../../test/helpers/stack.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PACKAGE = join(ROOT, "clients/r");
const TESTS = join(PACKAGE, "tests/testthat");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end without blocking this process's event loop. */
async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<Exit> {
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
  const { status, ...output } = await collectOutput(child).finally(() => clearTimeout(timer));
  return { code: status, ...output };
}

/** R with the packages the client needs; an Error saying how to get them otherwise. */
async function checkR(): Promise<void> {
  const how =
    "the R client's tests need R with jsonlite, processx and testthat: " +
    "bash deploy/local/r.sh installs them from Debian";
  let r: Exit;
  try {
    r = await run("Rscript", [
      "-e",
      'invisible(lapply(c("jsonlite", "processx", "testthat"), library, character.only = TRUE))',
    ]);
  } catch (err) {
    throw new Error(`Rscript cannot be run (${(err as Error).message}): ${how}`);
  }
  if (r.code !== 0) throw new Error(`${r.stderr.trim()}\n${how}`);
}

describe("the R package drover", { timeout: 900_000 }, () => {
  let stack: TestStack;
  let library: string;
  let home: string;
  let bridge: SlurmBridge | undefined;
  let bridgeNc: NatsConnection | undefined;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    await checkR();
    library = mkdtempSync(join(tmpdir(), "drover-r-lib-"));
    home = mkdtempSync(join(tmpdir(), "drover-r-home-"));
    const install = await run("R", ["CMD", "INSTALL", `--library=${library}`, PACKAGE]);
    assert.equal(install.code, 0, `R CMD INSTALL failed:\n${install.stdout}\n${install.stderr}`);
    stack = await startTestStack({ slots: 4 });
    env = {
      ...process.env,
      R_LIBS: library,
      DROVER_CLI: `${process.execPath} ${join(ROOT, "bin/drover.mjs")}`,
      DROVER_NATS_URL: stack.nats.url,
      DROVER_DATABASE_URL: stack.db.url,
      // No stack file of the user's own may stand in for this one.
      DROVER_HOME: home,
      DROVER_LOG_LEVEL: "warn",
    };
  });

  after(async () => {
    await bridge?.stop();
    await bridgeNc?.drain();
    await stack?.stop();
    for (const dir of [library, home]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The workflows and their tasks as the database has them, to tell why a test failed. */
  async function snapshot(): Promise<string> {
    const rows = await stack.sql<{ line: string }[]>`
      select w.id || ' ' || w.name || ' ' || w.status || ': ' ||
        string_agg(t.name || '=' || t.status || '/' || t.attempts, ' ' order by t.id) as line
      from workflow w join task t on t.workflow_id = w.id
      group by w.id order by w.id`;
    return `workflows:\n${rows.map((r) => `  ${r.line}`).join("\n")}`;
  }

  /** Runs one testthat file; fails on any failure, error or skip, showing R's output. */
  async function testthat(file: string, extraEnv: Record<string, string> = {}): Promise<void> {
    const script = `
      library(drover)
      r <- as.data.frame(testthat::test_file(${JSON.stringify(join(TESTS, file))}, reporter = "summary"))
      cat(sprintf("\\ntestthat %s: %d tests, %d expectations, %d failed, %d errors, %d skipped\\n",
        ${JSON.stringify(file)}, nrow(r), sum(r$nb), sum(r$failed), sum(r$error), sum(r$skipped)))
      quit(status = if (nrow(r) == 0 || sum(r$failed) + sum(r$error) + sum(r$skipped) > 0) 1 else 0)`;
    const t0 = Date.now();
    const r = await run("Rscript", ["-e", script], {
      env: { ...env, ...extraEnv },
      cwd: TESTS,
      timeoutMs: 420_000,
    });
    const summary = r.stdout.trim().split("\n").at(-1) ?? "";
    if (r.code !== 0) {
      assert.fail(`testthat ${file} failed:\n${r.stdout}\n${r.stderr}\n${await snapshot()}`);
    }
    assert.match(summary, / 0 failed, 0 errors, 0 skipped$/);
    console.log(`${summary} (${Math.round((Date.now() - t0) / 1000)} s)`);
  }

  test("builds specs from jobmonr's functions and refuses what Drover has no equivalent for", () =>
    testthat("test-spec.R"));

  test("bind(), run()'s return values, its timeout and the stack's refusals", () =>
    testthat("test-run.R"));

  test("a fork-join with resources, retries and a failing task on local; resume; DONE stays DONE", () =>
    testthat("test-fork-join.R", { DROVER_TEST_CLUSTER: "local" }));

  test("the same fork-join on the real Slurm", { skip: slurmSkip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "drover-r-slurm-"));
    ({ nc: bridgeNc, bridge } = await startStackSlurmBridge(stack, "r-slurm-bridge", dir, {
      pollSeconds: 1,
      maxPollSeconds: 3,
    }));
    await testthat("test-fork-join.R", { DROVER_TEST_CLUSTER: "slurm" });
  });

  test("the same DAG built in R, in YAML and in TypeScript has the same identity", async () => {
    // examples/burden.yaml, written with jobmonr's functions.
    const script = `
      library(drover)
      t <- tool("burden")
      model <- task_template(t, "model", "sh examples/bin/model.sh {location} {year} {out}",
                             node_args = list("location", "year"), op_args = list("out"))
      aggregate <- task_template(t, "aggregate", "sh examples/bin/aggregate.sh {location} {out}",
                                 node_args = list("location"), op_args = list("out"))
      report <- task_template(t, "report", "sh examples/bin/report.sh {out}", op_args = list("out"))
      out <- "/tmp/drover-example"
      wf <- workflow(t, workflow_args = list(built = "in R"), name = "burden from R")
      add_tasks(wf, array_tasks(model, location = 1:24, year = c(2019, 2020, 2021), out = out))
      aggregates <- lapply(1:24, function(loc) {
        task(aggregate, upstream_tasks = get_tasks_by_node_args(wf, "model", location = loc),
             location = loc, out = out)
      })
      add_tasks(wf, aggregates)
      add_tasks(wf, list(task(report, upstream_tasks = aggregates, out = out)))
      bind(wf)
      cat(workflow_id(wf))`;
    const r = await run("Rscript", ["-e", script], { env });
    assert.equal(r.code, 0, r.stderr);
    const fromR = Number(r.stdout.trim());
    const fromYaml = (
      await stack.submit(await loadSpecFile("examples/burden.yaml"), { hold: true })
    ).workflow_id;
    const fromTs = (await stack.submit(burdenWorkflow().toSubmission(), { hold: true }))
      .workflow_id;
    const identity = async (id: number) => {
      const [wf] = await stack.sql<{ dag_hash: string; taskset_hash: string; status: string }[]>`
        select dag_hash, taskset_hash, status from workflow where id = ${id}`;
      const tasks = await stack.sql<{ name: string; hash: string }[]>`
        select name, hash from task where workflow_id = ${id} order by name`;
      return { wf, tasks: tasks.map((t) => `${t.name} ${t.hash}`) };
    };
    const [r1, y1, t1] = await Promise.all([fromR, fromYaml, fromTs].map(identity));
    assert.equal(new Set([fromR, fromYaml, fromTs]).size, 3, "three workflows");
    assert.equal(r1!.tasks.length, 97);
    assert.deepEqual(r1!.tasks, y1!.tasks);
    assert.deepEqual(r1!.tasks, t1!.tasks);
    assert.equal(r1!.wf!.dag_hash, y1!.wf!.dag_hash);
    assert.equal(r1!.wf!.taskset_hash, y1!.wf!.taskset_hash);
    assert.equal(r1!.wf!.dag_hash, t1!.wf!.dag_hash);
    // bind() holds it: nothing runs.
    assert.equal(r1!.wf!.status, "REGISTERING");
  });

  test("examples/fork_join.R runs to DONE; run again into the same folder, nothing runs", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "drover-r-example-")), "out");
    mkdirSync(out);
    const first = await run("Rscript", ["examples/fork_join.R", out], { env });
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout, /ended with status D/);
    const report = readFileSync(join(out, "report.csv"), "utf8").trim().split("\n");
    assert.equal(report.length, 1 + 16, "a row per location and year");
    const id = Number(/workflow (\d+) ended/.exec(first.stdout)?.[1]);
    const [flaky] = await stack.sql<{ attempts: number }[]>`
      select attempts from task where workflow_id = ${id} and name = 'model_location-7_year-2021'`;
    assert.equal(flaky?.attempts, 2, "the flaky model run was retried");

    const again = await run("Rscript", ["examples/fork_join.R", out], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`workflow ${id} ended with status D`));
    assert.match(again.stderr, /DONE already: nothing to run/);
    rmSync(join(out, ".."), { recursive: true, force: true });
  });
});
