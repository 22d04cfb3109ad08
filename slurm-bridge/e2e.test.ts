// Workflows on the real Slurm end to end: every function of the registry and the query
// service in this process (test/helpers/stack.ts), a fresh database, a private
// nats-server, and the slurm-bridge polling every second.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { NatsConnection } from "../bus/connect.ts";
import { commands as cliCommands } from "../cli/main.ts";
import type { Submission } from "../submission/submission.ts";
import { collectOutput } from "../test/helpers/output.ts";
import {
  sacctByPrefix,
  slurmSkip,
  slurmWorkflow,
  startStackSlurmBridge,
  template,
  until,
} from "../test/helpers/slurm.ts";
import { afterChange, maxOverlap, napCommand, spansIn } from "../test/helpers/spans.ts";
import { startTestStack, type TestStack } from "../test/helpers/stack.ts";
import type { SlurmBridge } from "./bridge.ts";

const MiB = 1024 ** 2;
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const timings: string[] = [];

const needsStopResume =
  "stop" in cliCommands && "resume" in cliCommands
    ? false
    : "needs `drover stop` and `drover resume` (cli/commands/stop.ts, resume.ts)";

describe("workflows on Slurm", { skip: slurmSkip, timeout: 600_000 }, () => {
  let stack: TestStack;
  let nc: NatsConnection;
  let bridge: SlurmBridge;
  let dir: string;

  before(async () => {
    stack = await startTestStack();
    dir = mkdtempSync(join(tmpdir(), "drover-slurm-e2e-"));
    // The bridge registers the partitions; workflows can name them once they are in.
    ({ nc, bridge } = await startStackSlurmBridge(stack, "slurm-bridge-e2e", dir, {
      pollSeconds: 1,
      maxPollSeconds: 5,
    }));
  });
  after(async () => {
    await bridge?.stop();
    await nc?.drain();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (timings.length > 0) console.log(`slurm end-to-end:\n  ${timings.join("\n  ")}`);
  });

  /** The CLI as a subprocess (not spawnSync: the services answering it run in this process). */
  function drover(...args: string[]) {
    const env = {
      ...process.env,
      DROVER_NATS_URL: stack.nats.url,
      DROVER_DATABASE_URL: stack.db.url,
      DROVER_HOME: join(dir, "home"),
    };
    return collectOutput(spawn(process.execPath, [join(ROOT, "bin/drover.mjs"), ...args], { env }));
  }

  async function instances(workflowId: number) {
    return stack.sql<
      {
        id: number;
        task: string;
        status: string;
        exit_code: number | null;
        error: string | null;
        error_kind: string | null;
        memory_requested: number;
        runtime_requested: number;
        memory_used: number | null;
        distributor_id: string | null;
      }[]
    >`select i.id, t.name as task, i.status, i.exit_code, i.error, i.error_kind,
        i.memory_requested, i.runtime_requested, i.memory_used, i.distributor_id
      from task_instance i join task t on t.id = i.task_id
      where i.workflow_id = ${workflowId} order by t.name, i.id`;
  }

  test("300 tasks of two templates with dependencies end DONE: one sbatch per launch batch", async () => {
    const t0 = Date.now();
    const before = bridge.stats();
    const n = 150;
    const tasks: Submission["tasks"] = [];
    for (let i = 0; i < n; i++) {
      tasks.push({ template: "prep", name: `prep_i-${i}`, args: { i: String(i) }, upstream: [] });
    }
    for (let i = 0; i < n; i++) {
      tasks.push({ template: "agg", name: `agg_i-${i}`, args: { i: String(i) }, upstream: [i] });
    }
    const sub = slurmWorkflow(
      "three hundred",
      [
        template("prep", "echo prep {i}", { node_args: ["i"] }),
        template("agg", "echo agg {i}", { node_args: ["i"] }),
      ],
      tasks,
    );
    const end = await stack.run(sub, { timeoutMs: 480_000 });
    assert.equal(end.status, "DONE");
    assert.equal(end.counts.DONE, 300);
    const after = bridge.stats();
    const [row] = await stack.sql<{ batches: number }[]>`
      select count(*)::int as batches from launch_batch where workflow_id = ${end.id}`;
    const sbatch = after.sbatch_calls - before.sbatch_calls;
    const sacct = after.sacct_calls - before.sacct_calls;
    const cycles = after.poll_cycles - before.poll_cycles;
    assert.equal(sbatch, row!.batches, "sbatch calls = launch batches");
    assert.ok(sbatch < 300, "not one per task");
    assert.ok(sacct <= cycles, `sacct ${sacct} <= poll cycles ${cycles}`);
    const rows = await instances(end.id);
    assert.equal(rows.length, 300, "one instance per task");
    assert.deepEqual(
      rows.filter((r) => r.status !== "DONE"),
      [],
    );
    assert.ok(rows.every((r) => /^\d+_\d+$/.test(r.distributor_id ?? "")));
    // MaxRSS from sacct (the .batch step line), in the bridge's ti.done of every element.
    // The worker's own ti.done comes first and is what complete keeps: its peak of the
    // command alone, absent for a command shorter than its first sample (250 ms).
    await until(() => rows.every((r) => bridge.outcomes.has(r.id)), 30_000, "sacct outcomes");
    // Slurm's linux gather samples once a second: an element that ends before its first
    // sample can show no MaxRSS at all (seen under load), so a few zeros are Slurm's.
    const rss = rows.map((r) => bridge.outcomes.get(r.id)?.memory_used ?? 0);
    const withRss = rss.filter((b) => b > 0).length;
    assert.ok(withRss >= 285, `MaxRSS reported for ${withRss} of 300 elements`);
    assert.ok(
      rows.every((r) => bridge.outcomes.get(r.id)?.state === "COMPLETED"),
      "sacct says COMPLETED",
    );
    const measured = rows.filter((r) => r.memory_used !== null).length;
    timings.push(
      `300 tasks: ${((Date.now() - t0) / 1000).toFixed(1)} s; launch batches ${row!.batches}, sbatch ${sbatch}, sacct ${sacct}, poll cycles ${cycles}; MaxRSS for ${withRss} of 300, median ${(rss.sort((a, b) => a - b)[150]! / MiB).toFixed(1)} MiB; memory_used in the database for ${measured} of 300`,
    );
  });

  test("out of memory at 100M with memory scale 4: OUT_OF_MEMORY, retried with 500M, DONE on attempt 2", async () => {
    const t0 = Date.now();
    const sub = slurmWorkflow(
      "oom",
      [
        template("hog", 'python3 -c "x=bytearray(300*1024*1024); import time; time.sleep(1)"', {
          resources: { memory_bytes: 100 * MiB },
          resource_scales: { memory: 4 },
        }),
      ],
      [{ template: "hog", name: "hog", args: {}, upstream: [] }],
    );
    const end = await stack.run(sub, { timeoutMs: 180_000 });
    assert.equal(end.status, "DONE");
    const rows = await instances(end.id);
    assert.deepEqual(
      rows.map((r) => [r.status, r.error_kind, r.memory_requested]),
      [
        ["RESOURCE_ERROR", "memory", 100 * MiB],
        ["DONE", null, 500 * MiB],
      ],
    );
    assert.match(rows[0]!.error!, /OUT_OF_MEMORY/);
    assert.equal(bridge.outcomes.get(rows[0]!.id)?.state, "OUT_OF_MEMORY");
    timings.push(`OOM then DONE: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  test("a task exiting 3: ERROR with exit code 3 and its stderr tail, up to max_attempts, then ERROR_FATAL", async () => {
    const t0 = Date.now();
    const sub = slurmWorkflow(
      "exit three",
      [template("bad", "echo going; echo 'it broke' >&2; exit 3")],
      [{ template: "bad", name: "bad", args: {}, upstream: [], max_attempts: 2 }],
    );
    const end = await stack.run(sub, { timeoutMs: 180_000 });
    assert.equal(end.status, "FAILED");
    assert.equal(end.counts.ERROR_FATAL, 1);
    const rows = await instances(end.id);
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.status, "ERROR");
      assert.equal(r.exit_code, 3);
      assert.equal(r.error_kind, "error");
      assert.match(r.error!, /exited with code 3[\s\S]*it broke/);
    }
    timings.push(`exit 3 twice: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  test("drover stop cancels running jobs (CANCELLED in sacct), HALTED; drover resume runs the rest to DONE", {
    skip: needsStopResume,
  }, async () => {
    const t0 = Date.now();
    const release = join(dir, "release");
    const sub = slurmWorkflow(
      "stop and resume",
      [
        template("quick", "echo quick {i}", { node_args: ["i"] }),
        // Runs until released: the first attempts are still running when stopped.
        template("slow", `for s in $(seq 120); do [ -e ${release} ] && exit 0; sleep 1; done`, {
          node_args: ["i"],
        }),
      ],
      [
        ...[0, 1, 2].map((i) => ({
          template: "quick",
          name: `quick_i-${i}`,
          args: { i: String(i) },
          upstream: [],
        })),
        ...[0, 1, 2].map((i) => ({
          template: "slow",
          name: `slow_i-${i}`,
          args: { i: String(i) },
          upstream: [i],
        })),
      ],
    );
    const bound = await stack.submit(sub);
    const wf = bound.workflow_id;
    await until(
      async () => {
        const [r] = await stack.sql<{ n: number }[]>`
        select count(*)::int as n from task where workflow_id = ${wf} and status = 'RUNNING'`;
        return r!.n === 3;
      },
      120_000,
      "the slow tasks running",
    );
    const slowJobs = (await instances(wf))
      .filter((r) => r.task.startsWith("slow"))
      .map((r) => r.distributor_id!);
    const stop = await drover("stop", String(wf), "--json");
    assert.equal(stop.status, 0, stop.stderr);
    await until(
      async () => {
        const [w] = await stack.sql<
          { status: string }[]
        >`select status from workflow where id = ${wf}`;
        return w!.status === "HALTED";
      },
      60_000,
      "HALTED",
    );
    await until(
      () => {
        const states = new Map(sacctByPrefix(bridge.tagPrefix).map((f) => [f[0]!, f[2]!] as const));
        return slowJobs.every((j) => states.get(j)?.startsWith("CANCELLED"));
      },
      60_000,
      "the running jobs CANCELLED in sacct",
    );
    writeFileSync(release, "");
    const resume = await drover("resume", String(wf), "--wait", "--json");
    assert.equal(resume.status, 0, `${resume.stdout}\n${resume.stderr}`);
    const [w] = await stack.sql<{ status: string }[]>`select status from workflow where id = ${wf}`;
    assert.equal(w!.status, "DONE");
    timings.push(`stop and resume: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  test("a limit lowered from 20 to 1 with 16 tasks handed to Slurm: the arrays' throttles hold it", async () => {
    const t0 = Date.now();
    const naps = join(dir, "naps");
    mkdirSync(naps);
    const sub = slurmWorkflow(
      "lowered limit",
      [template("nap", napCommand(naps, 2), { node_args: ["i"] })],
      Array.from({ length: 16 }, (_, i) => ({
        template: "nap",
        name: `nap_i-${i}`,
        args: { i: String(i) },
        upstream: [],
      })),
    );
    sub.workflow.max_concurrently_running = 20;
    const wf = (await stack.submit(sub)).workflow_id;
    const handedOut = async () => {
      const [r] = await stack.sql<{ out: number; running: number }[]>`
        select count(*) filter (where status in ('LAUNCHED', 'RUNNING'))::int as out,
          count(*) filter (where status = 'RUNNING')::int as running
        from task where workflow_id = ${wf}`;
      return r!.out === 16 && r!.running >= 2;
    };
    await until(handedOut, 120_000, "all 16 handed to Slurm, some running");
    const lowered = await drover("concurrency", String(wf), "1");
    assert.equal(lowered.status, 0, lowered.stderr);
    const changedAt = Date.now();
    const done = await drover("wait", String(wf));
    assert.equal(done.status, 0, done.stdout + done.stderr);
    const all = spansIn(naps);
    assert.equal(all.length, 16);
    // Slurm starts what its scheduler had already picked within a second or two.
    const { before, later, settled } = afterChange(all, changedAt, 2000);
    assert.ok(maxOverlap(before) >= 2, "before the change, several ran at once");
    assert.ok(later.length >= 4, `${later.length} tasks started after the change settled`);
    assert.equal(maxOverlap(later, settled), 1, JSON.stringify(later));
    timings.push(`limit lowered to 1: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
});
