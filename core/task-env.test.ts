import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { holdsUrlPassword, redactUrls } from "./redact.ts";
import {
  capturedEnvironmentProblem,
  captureEnvironment,
  composeTaskEnv,
  envProblem,
  workingDirProblem,
} from "./task-env.ts";

describe("a task's environment", () => {
  test("the submitter's environment less credentials and service settings", () => {
    const captured = captureEnvironment({
      FOO: "x",
      PATH: "/opt/conda/bin:/usr/bin",
      BASH_FUNC_module__: "() {  eval x\n}",
      DROVER_DATABASE_URL: "postgres://drover:pw@db/drover",
      DROVER_NATS_URL: "nats://127.0.0.1:4222",
      DROVER_NATS_CREDS: "/home/u/.drover/u.creds",
      DROVER_HOME: "/home/u/.drover",
      DROVER_TASK_ID: "12",
      PGPASSWORD: "secret",
      PGHOST: "db",
      NATS_TOKEN: "t",
      MY_DB: "mysql://app:hunter2@db:3306/x",
      PUBLIC_URL: "https://example.org/x",
      ONLY_USER: "postgres://postgres@127.0.0.1/drover",
      "BAD=NAME": "x",
      NUL: "a\0b",
    });
    assert.deepEqual(captured, {
      BASH_FUNC_module__: "() {  eval x\n}",
      DROVER_HOME: "/home/u/.drover",
      FOO: "x",
      ONLY_USER: "postgres://postgres@127.0.0.1/drover",
      PATH: "/opt/conda/bin:/usr/bin",
      PUBLIC_URL: "https://example.org/x",
    });
  });

  test("levels: launch < task < who the task is; extra (Slurm's) under both", () => {
    const env = composeTaskEnv(
      { FOO: "launch", BAR: "launch", DROVER_TASK_ID: "forged" },
      { BAR: "task" },
      { workflowId: 1, taskId: 2, instanceId: 3, attempt: 1, cluster: "local" },
      { SLURM_JOB_ID: "9", FOO: "slurm" },
    );
    assert.deepEqual(env, {
      SLURM_JOB_ID: "9",
      FOO: "launch",
      BAR: "task",
      DROVER_WORKFLOW_ID: "1",
      DROVER_TASK_ID: "2",
      DROVER_TASK_INSTANCE_ID: "3",
      DROVER_ATTEMPT: "1",
      DROVER_CLUSTER: "local",
    });
    const bare = composeTaskEnv(undefined, undefined, {
      workflowId: 1,
      taskId: 2,
      instanceId: 3,
      attempt: 1,
      cluster: "local",
    });
    assert.equal(bare.PATH, "/usr/local/bin:/usr/bin:/bin");
  });

  test("checks of a spec's env and working_dir, and the size cap", () => {
    assert.equal(envProblem({ OK_1: "v" }), null);
    assert.match(envProblem({ "1BAD": "v" }) ?? "", /not allowed/);
    assert.match(envProblem({ A: "a\0" }) ?? "", /NUL/);
    assert.match(envProblem({ A: "x".repeat(200_000) }) ?? "", /over 128 KiB/);
    assert.equal(workingDirProblem("/data/x"), null);
    assert.match(workingDirProblem("data/x") ?? "", /absolute/);
    const big: Record<string, string> = {};
    for (let i = 0; i < 5; i++) big[`V${i}`] = "x".repeat(100_000);
    assert.match(capturedEnvironmentProblem(big) ?? "", /over the cap of 256 KiB \(largest: /);
  });
});

describe("redacting URLs", () => {
  test("passwords become ***, user names stay", () => {
    assert.equal(
      redactUrls("cannot connect to postgres://drover:s3cr%40t@db:5432/drover (refused)"),
      "cannot connect to postgres://drover:***@db:5432/drover (refused)",
    );
    assert.equal(
      redactUrls("a nats://u:p@h:4222 and b postgresql://x:@h/d"),
      "a nats://u:***@h:4222 and b postgresql://x:***@h/d",
    );
    assert.equal(
      redactUrls("postgres://postgres@127.0.0.1/drover"),
      "postgres://postgres@127.0.0.1/drover",
    );
    assert.equal(redactUrls("see https://example.org/a:b@c"), "see https://example.org/a:b@c");
    assert.equal(holdsUrlPassword("postgres://a:b@h/d"), true);
    assert.equal(holdsUrlPassword("postgres://a@h/d"), false);
    assert.equal(holdsUrlPassword("postgres://a:b@h/d"), true);
  });
});
