// Large resources and memory scales as a user meets them: spec files submitted with the
// CLI (a subprocess) to a whole Drover on the `dummy` cluster, the outcome read back with
// `drover task --json` and, for what the CLI does not show, from the database.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { collectOutput } from "./helpers/output.ts";
import { startTestStack, type TestStack } from "./helpers/stack.ts";

const G = 1024 ** 3;
const T = 1024 ** 4;
const DAYS_30 = 30 * 86400;

let stack: TestStack;
const dir = mkdtempSync(join(tmpdir(), "drover-resources-cli-"));

before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI as a subprocess (not spawnSync: the functions answering it run in this process). */
async function drover(
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    DROVER_NATS_URL: stack.nats.url,
    DROVER_DATABASE_URL: stack.db.url,
    DROVER_HOME: join(dir, "home"),
    DROVER_LOG_LEVEL: "warn",
  };
  const { status, ...output } = await collectOutput(
    spawn(process.execPath, ["bin/drover.mjs", ...args], { env }),
  );
  return { code: status, ...output };
}

async function submitWait(name: string, yaml: string) {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, yaml);
  const r = await drover("submit", path, "--wait", "--json");
  return { ...r, out: JSON.parse(r.stdout) as { id: number; status: string } };
}

interface TaskJson {
  id: number;
  status: string;
  attempts: number;
  instances: { status: string; memory_requested: number }[];
}

/** `drover task --json` of the workflow's only task. */
async function onlyTask(workflowId: number): Promise<TaskJson> {
  const list = await drover("tasks", String(workflowId), "--json");
  assert.equal(list.code, 0, list.stderr);
  const [task] = JSON.parse(list.stdout).tasks as { id: number }[];
  const r = await drover("task", String(task!.id), "--json");
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as TaskJson;
}

describe("resources through the CLI on dummy", { timeout: 180_000 }, () => {
  test("memory scales [4, 8] GiB: after out-of-memory kills, retried with 4 GiB then 8 GiB", async () => {
    const r = await submitWait(
      "oom",
      `tool: { name: resources_cli }
workflow: { name: oom, default_cluster: dummy, default_max_attempts: 3 }
templates:
  - name: train
    command: "train @dummy:oom"
    resources: { memory: 2G, runtime: 10m }
    resource_scales: { memory: [4, 8] }
tasks:
  - { template: train }
`,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.out.status, "FAILED");
    const task = await onlyTask(r.out.id);
    assert.equal(task.status, "ERROR_FATAL");
    assert.deepEqual(
      task.instances.map((i) => [i.status, i.memory_requested]),
      [
        ["RESOURCE_ERROR", 2 * G],
        ["RESOURCE_ERROR", 4 * G],
        ["RESOURCE_ERROR", 8 * G],
      ],
    );
  });

  test("1 TiB, 30 days and 256 cores: DONE on long.q, with those values recorded", async () => {
    const r = await submitWait(
      "big",
      `tool: { name: resources_cli }
workflow: { name: big, default_cluster: dummy }
templates:
  - { name: simulate, command: "simulate --days 30", fallback_queues: [long.q] }
tasks:
  - template: simulate
    resources: { memory: 1T, runtime: 30d, cores: 256 }
`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.out.status, "DONE");
    const task = await onlyTask(r.out.id);
    assert.equal(task.status, "DONE");
    assert.deepEqual(
      task.instances.map((i) => [i.status, i.memory_requested]),
      [["DONE", T]],
    );
    // What the CLI does not show: the task's row, its instance and its launch batch.
    const [row] = await stack.sql<
      {
        cores: number;
        memory_bytes: number;
        runtime_seconds: number;
        queue: string;
        runtime_requested: number;
        batch_cores: number;
        batch_memory: number;
        batch_runtime: number;
      }[]
    >`select t.cores, t.memory_bytes, t.runtime_seconds, q.name as queue, i.runtime_requested,
             b.cores as batch_cores, b.memory_bytes as batch_memory,
             b.runtime_seconds as batch_runtime
      from task t join queue q on q.id = t.queue_id
      join task_instance i on i.task_id = t.id join launch_batch b on b.id = i.batch_id
      where t.id = ${task.id}`;
    assert.deepEqual(
      { ...row },
      {
        cores: 256,
        memory_bytes: T,
        runtime_seconds: DAYS_30,
        queue: "long.q",
        runtime_requested: DAYS_30,
        batch_cores: 256,
        batch_memory: T,
        batch_runtime: DAYS_30,
      },
    );
  });

  test("per-task resource_scales and fallback_queues, per-template max_attempts", async () => {
    const r = await submitWait(
      "settings",
      `tool: { name: resources_cli }
workflow: { name: settings, default_cluster: dummy, default_max_attempts: 5 }
templates:
  - name: fit
    command: "fit {loc} @dummy:timeout"
    node_args: [loc]
    resources: { runtime: 20h }
    max_attempts: 2
tasks:
  - { template: fit, args: { loc: plain } }
  - template: fit
    args: { loc: own }
    max_attempts: 3
    resource_scales: { runtime: [40h, 60h] }
    fallback_queues: [long.q]
`,
    );
    assert.equal(r.code, 1, r.stderr);
    const list = await drover("tasks", String(r.out.id), "--json");
    const tasks = JSON.parse(list.stdout).tasks as { id: number; name: string }[];
    const runtimes = async (name: string) => {
      const id = tasks.find((t) => t.name === name)!.id;
      const [row] = await stack.sql<{ runtimes: number[]; queues: string[] }[]>`
        select array_agg(i.runtime_requested order by i.id) as runtimes,
               array_agg(q.name order by i.id) as queues
        from task_instance i join launch_batch b on b.id = i.batch_id
        join queue q on q.id = b.queue_id where i.task_id = ${id}`;
      return row!;
    };
    // The template's 2 attempts, its default +50% clamped to all.q's 24 h.
    assert.deepEqual(await runtimes("fit_loc-plain"), {
      runtimes: [20 * 3600, 24 * 3600],
      queues: ["all.q", "all.q"],
    });
    // Its own 3 attempts, its own list, on its own fallback queue past 24 h.
    assert.deepEqual(await runtimes("fit_loc-own"), {
      runtimes: [20 * 3600, 40 * 3600, 60 * 3600],
      queues: ["all.q", "long.q", "long.q"],
    });
  });
});
