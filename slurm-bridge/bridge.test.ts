// The slurm-bridge against the real Slurm of deploy/slurm/start.sh, on private
// nats-servers, without a database: launch batches in, ti.* results and Slurm call counts out.
import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TiDone, TiError } from "../bus/schemas.ts";
import {
  type BridgeEnv,
  launchBatch,
  sacctByPrefix,
  slurmSkip,
  startBridgeEnv,
  until,
} from "../test/helpers/slurm.ts";

const MiB = 1024 ** 2;
const durations: string[] = [];

describe("slurm-bridge on a real Slurm", { skip: slurmSkip }, () => {
  let env: BridgeEnv;

  before(async () => {
    env = await startBridgeEnv();
  });
  after(async () => {
    await env?.stop();
    if (durations.length > 0) console.log(`slurm-bridge tests:\n  ${durations.join("\n  ")}`);
  });

  test("partitions are published as queues with their limits, the default first", async () => {
    const msg = await until(() => env.seen.queues[0], 10_000, "cluster.queues");
    assert.equal(msg.cluster, "slurm");
    assert.equal(msg.kind, "slurm");
    const [debug, short] = msg.queues;
    assert.equal(debug?.name, "debug");
    assert.equal(debug?.max_runtime_seconds, null);
    assert.ok(debug!.max_cores! >= 1);
    assert.ok(debug!.max_memory_bytes! > 1024 * MiB);
    assert.deepEqual(short, {
      name: "short",
      max_cores: 4,
      max_memory_bytes: 8192 * MiB,
      max_runtime_seconds: 3600,
    });
    assert.equal(env.bridge.stats().max_array_size, 100001, "read from scontrol show config");
  });

  test("one sbatch per batch; done and failed elements reported once each, first report right", async () => {
    const t0 = Date.now();
    const before = env.bridge.stats();
    const commands = [
      ...Array.from({ length: 22 }, (_, i) => `echo out-${i}`),
      "echo boom >&2; exit 3",
      'python3 -c "x=bytearray(40*1024*1024); import time; time.sleep(2.5)"',
    ];
    const batch = launchBatch(commands);
    await env.launch(batch);
    const ids = batch.instances.map((i) => i.id);
    await env.settle(ids, 90_000);
    const after = env.bridge.stats();
    assert.equal(after.sbatch_calls - before.sbatch_calls, 1, "one sbatch for the batch");
    assert.ok(after.sacct_calls - before.sacct_calls <= after.poll_cycles - before.poll_cycles);
    const launched = env.seen.launched.filter((l) => ids.includes(l.id));
    assert.equal(launched.length, ids.length);
    const jobId = launched[0]!.distributor_id.split("_")[0];
    assert.deepEqual(
      launched.map((l) => l.distributor_id),
      ids.map((_, step) => `${jobId}_${step}`),
    );
    assert.equal(readFileSync(launched[3]!.stdout!, "utf8"), "out-3\n");

    for (const id of ids.slice(0, 22)) {
      assert.equal(env.seen.first(id)?.kind, "done", `instance ${id}`);
      assert.equal(env.bridge.outcomes.get(id)?.kind, "done");
    }
    const failed = ids[22]!;
    const first = env.seen.first(failed)!.entry as TiError["results"][number];
    assert.equal(first.kind, "error");
    assert.equal(first.exit_code, 3);
    assert.equal(first.stderr_tail, "boom\n");
    assert.deepEqual(
      env.seen.results(failed).map((r) => r.kind),
      ["error", "error"],
      "the worker's report, then the bridge's: the same outcome",
    );
    // MaxRSS from sacct's .batch line (sampled once a second: the 2.5 s python shows up).
    const big = env.bridge.outcomes.get(ids[23]!)!;
    assert.equal(big.kind, "done");
    assert.ok(big.memory_used! >= 40 * MiB, `MaxRSS ${big.memory_used}`);
    assert.equal(big.node, readFileSync("/proc/sys/kernel/hostname", "utf8").trim());
    assert.ok(big.runtime_used! >= 2);
    const worker = env.seen.first(ids[23]!)!.entry as TiDone["results"][number];
    assert.ok(worker.memory_used! >= 40 * MiB, "the worker measured it too");
    // Pending and running elements were heartbeaten by the bridge in batches.
    assert.ok(
      env.seen.reports.some((r) => r.subject === "ti.heartbeat" && ids.includes(r.id)),
      "heartbeats",
    );
    durations.push(
      `24-element batch: ${(Date.now() - t0) / 1000} s, sbatch ${after.sbatch_calls - before.sbatch_calls}, sacct ${after.sacct_calls - before.sacct_calls}, poll cycles ${after.poll_cycles - before.poll_cycles}`,
    );
  });

  test("over its memory: OUT_OF_MEMORY is a memory error, reported by the bridge only", async () => {
    const batch = launchBatch(
      ['python3 -c "x=bytearray(300*1024*1024); import time; time.sleep(2)"', "true"],
      { memory_bytes: 100 * MiB },
    );
    await env.launch(batch);
    const [oom, ok] = batch.instances.map((i) => i.id) as [number, number];
    await env.settle([oom, ok]);
    assert.equal(env.bridge.outcomes.get(oom)?.state, "OUT_OF_MEMORY");
    const results = env.seen.results(oom);
    assert.deepEqual(
      results.map((r) => r.kind),
      ["memory"],
    );
    const entry = results[0]!.entry as TiError["results"][number];
    assert.match(entry.message, /OUT_OF_MEMORY.*100 MiB/);
    assert.equal(entry.exit_code, null);
    assert.equal(env.seen.first(ok)?.kind, "done", "the worker fits in 100M");
  });

  test("kill orders: running elements end CANCELLED (killed), pending ones are removed", async () => {
    // 4 cores each: at most two run at once on the 8-CPU node, the rest wait.
    const batch = launchBatch(Array(6).fill("sleep 300"), { cores: 4 });
    const ids = batch.instances.map((i) => i.id);
    await env.launch(batch);
    await until(() =>
      env.seen.reports.some((r) => r.subject === "ti.running" && ids.includes(r.id)),
    );
    await env.bridge.pollNow();
    const running = ids.filter((id) => env.seen.count("ti.running", id) > 0);
    const before = env.bridge.stats().scancel_calls;
    await env.kill(ids, "workflow stopped");
    await env.settle(ids, 90_000);
    assert.equal(env.bridge.stats().scancel_calls - before, 1, "one scancel for the order");
    for (const id of ids) {
      assert.deepEqual(
        env.seen.results(id).map((r) => r.kind),
        ["killed"],
        `instance ${id}`,
      );
    }
    for (const id of running) assert.equal(env.bridge.outcomes.get(id)?.state, "CANCELLED");
    const jobId = env.seen.launched.find((l) => l.id === ids[0])!.distributor_id.split("_")[0];
    const lines = sacctByPrefix(env.bridge.tagPrefix).filter((f) => f[0]!.startsWith(`${jobId}_`));
    assert.ok(lines.length > 0 && lines.every((f) => f[2]!.startsWith("CANCELLED")), `${lines}`);
  });

  test("a kill order that comes before its batch: that instance never runs", async () => {
    const batch = launchBatch(["sleep 300", "true"]);
    const [early, other] = batch.instances.map((i) => i.id) as [number, number];
    await env.kill([early], "stopped early");
    await until(async () => {
      await new Promise((r) => setTimeout(r, 200));
      return true;
    });
    await env.launch(batch);
    await env.settle([early, other], 120_000);
    assert.equal(env.bridge.outcomes.get(early)?.kind, "killed");
    assert.equal(env.seen.first(other)?.kind, "done");
    const manifest = readFileSync(
      join(env.stateDir, env.bridge.tagPrefix, "jobs", `batch-${batch.batch_id}`, "part-0.json"),
      "utf8",
    );
    assert.deepEqual(
      JSON.parse(manifest).instances.map((i: { id: number }) => i.id),
      [other],
    );
  });

  test("cancelled outside Drover: an error, not a kill", async () => {
    const batch = launchBatch(["sleep 300"]);
    const [id] = batch.instances.map((i) => i.id) as [number];
    await env.launch(batch);
    await until(() => env.seen.count("ti.running", id) > 0);
    const jobId = env.seen.launched.find((l) => l.id === id)!.distributor_id;
    const { spawnSync } = await import("node:child_process");
    assert.equal(spawnSync("scancel", [jobId]).status, 0);
    await env.settle([id], 90_000);
    assert.equal(env.seen.first(id)?.kind, "error");
    assert.match(env.bridge.outcomes.get(id)!.message!, /CANCELLED.*outside Drover/);
  });

  test("the bridge heartbeat carries its counters", async () => {
    const beat = await until(() => env.seen.beats.at(-1), 5000);
    assert.equal(beat.cluster, "slurm");
    assert.equal(typeof beat.counters?.sbatch_calls, "number");
    assert.equal(typeof beat.counters?.sacct_calls, "number");
    assert.equal(typeof beat.counters?.poll_interval_ms, "number");
    const s = env.bridge.stats();
    assert.ok(s.sacct_calls <= s.poll_cycles + s.squeue_calls, JSON.stringify(s));
  });
});

describe("slurm-bridge robustness", { skip: slurmSkip }, () => {
  test("a batch above MaxArraySize is split: one sbatch per part", async () => {
    const env = await startBridgeEnv({ maxArraySize: 5 });
    try {
      const batch = launchBatch(Array.from({ length: 12 }, (_, i) => `echo ${i}`));
      await env.launch(batch);
      const ids = batch.instances.map((i) => i.id);
      await until(() => ids.every((id) => env.bridge.outcomes.has(id)), 60_000);
      assert.equal(env.bridge.stats().sbatch_calls, 3);
      const byJob = new Map<string, string[]>();
      for (const l of env.seen.launched) {
        const [job, index] = l.distributor_id.split("_") as [string, string];
        byJob.set(job, [...(byJob.get(job) ?? []), index]);
      }
      assert.deepEqual(
        [...byJob.values()],
        [
          ["0", "1", "2", "3", "4"],
          ["0", "1", "2", "3", "4"],
          ["0", "1"],
        ],
      );
      for (const id of ids) assert.equal(env.bridge.outcomes.get(id)?.kind, "done");
    } finally {
      await env.stop();
    }
  });

  test("sbatch failures are retried with backoff; the batch goes through once", async () => {
    const env = await startBridgeEnv({ submitBackoff: { baseMs: 200, capMs: 1000 } });
    try {
      const counter = join(env.dir, "sbatch-fails");
      const wrapper = join(env.dir, "sbatch");
      writeFileSync(counter, "0");
      writeFileSync(
        wrapper,
        `#!/bin/bash
n=$(cat ${counter}); echo $((n+1)) > ${counter}
if [ "$n" -lt 2 ]; then
  echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
  exit 1
fi
exec sbatch "$@"
`,
      );
      chmodSync(wrapper, 0o755);
      env.bridge.commands.paths.sbatch = wrapper;
      const batch = launchBatch(["true", "true"]);
      await env.launch(batch);
      const ids = batch.instances.map((i) => i.id);
      await until(() => ids.every((id) => env.bridge.outcomes.has(id)), 60_000);
      const s = env.bridge.stats();
      assert.equal(s.sbatch_calls, 3);
      assert.equal(s.sbatch_failures, 2);
      assert.equal(
        sacctByPrefix(env.bridge.tagPrefix).filter((f) => !f[0]!.includes(".")).length > 0,
        true,
      );
      const jobs = new Set(sacctByPrefix(env.bridge.tagPrefix).map((f) => f[0]!.split("_")[0]));
      assert.equal(jobs.size, 1, "submitted once");
    } finally {
      await env.stop();
    }
  });

  test("an sbatch that timed out after Slurm took the job: found by its tag, not submitted again", async () => {
    const env = await startBridgeEnv({ submitBackoff: { baseMs: 200, capMs: 1000 } });
    try {
      const wrapper = join(env.dir, "sbatch");
      // Submits, then says it timed out (as when the controller answers too late).
      writeFileSync(
        wrapper,
        `#!/bin/bash
sbatch "$@" >/dev/null || exit 1
echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
exit 1
`,
      );
      chmodSync(wrapper, 0o755);
      env.bridge.commands.paths.sbatch = wrapper;
      const batch = launchBatch(["true"]);
      const [id] = batch.instances.map((i) => i.id) as [number];
      await env.launch(batch);
      await until(() => env.bridge.outcomes.get(id), 60_000);
      const s = env.bridge.stats();
      assert.equal(s.sbatch_calls, 1, "no second sbatch");
      assert.ok(s.squeue_calls >= 1, "looked up by tag");
      assert.equal(env.bridge.outcomes.get(id)?.kind, "done");
      const jobs = new Set(sacctByPrefix(env.bridge.tagPrefix).map((f) => f[0]!.split("_")[0]));
      assert.equal(jobs.size, 1);
    } finally {
      await env.stop();
    }
  });

  test("sbatch refusing a batch: its instances are reported as errors, nothing is lost", async () => {
    const env = await startBridgeEnv();
    try {
      const batch = launchBatch(["true"], {}, { queue: "no_such_partition" });
      await env.launch(batch);
      const [id] = batch.instances.map((i) => i.id) as [number];
      const r = await until(() => env.seen.first(id), 30_000);
      assert.equal(r.kind, "error");
      assert.match((r.entry as TiError["results"][number]).message, /not submitted: .*partition/i);
    } finally {
      await env.stop();
    }
  });

  test("sacct unavailable: polling goes on, nothing is marked failed, results come after", async () => {
    const env = await startBridgeEnv({ maxPollSeconds: 3 });
    try {
      const broken = join(env.dir, "sacct");
      writeFileSync(
        broken,
        '#!/bin/sh\necho "sacct: error: Problem talking to the database: Connection refused" >&2\nexit 1\n',
      );
      chmodSync(broken, 0o755);
      env.bridge.commands.paths.sacct = broken;
      // The command fails: only sacct can report it, so nothing comes while sacct is down.
      const batch = launchBatch(["sleep 1; kill -KILL $$"]);
      const [id] = batch.instances.map((i) => i.id) as [number];
      await env.launch(batch);
      await until(() => env.bridge.stats().sacct_failures >= 4, 30_000, "four failed polls");
      assert.equal(env.seen.first(id), undefined, "no result while sacct is down");
      assert.ok(env.bridge.stats().poll_interval_ms > 1000, "the interval backed off");
      assert.ok(env.seen.reports.some((r) => r.subject === "ti.heartbeat" && r.id === id));
      delete env.bridge.commands.paths.sacct;
      const r = await until(() => env.seen.first(id), 30_000, "the result once sacct is back");
      assert.equal(r.kind, "error");
      assert.match((r.entry as TiError["results"][number]).message, /killed by signal SIGKILL/);
    } finally {
      await env.stop();
    }
  });

  test("a bridge that dies between sbatch and recording the job: the next one adopts it, nothing is submitted twice", async () => {
    let crash: (err: Error) => void = () => {};
    let submitted: string | undefined;
    const env = await startBridgeEnv({
      ackWaitMs: 3000,
      afterSubmit: (_tag, jobId) => {
        submitted = jobId;
        // The first bridge "dies" here: nothing after sbatch happens.
        return new Promise<void>((_, reject) => {
          crash = reject;
        });
      },
    });
    try {
      const first = env.bridge;
      const batch = launchBatch(["sleep 2", "sleep 2", "sleep 2"]);
      const ids = batch.instances.map((i) => i.id);
      await env.launch(batch);
      await until(() => submitted, 30_000, "the first sbatch");
      await env.crash();
      const second = await env.restart({ afterSubmit: undefined });
      await until(() => ids.every((id) => second.outcomes.has(id)), 60_000, "results");
      crash(new Error("the first bridge died"));
      await first.stop();
      assert.equal(first.stats().sbatch_calls, 1);
      assert.equal(second.stats().sbatch_calls, 0, "the second bridge submitted nothing");
      assert.ok(second.stats().parts_adopted >= 1);
      for (const id of ids) assert.equal(second.outcomes.get(id)?.kind, "done");
      const launchedIds = env.seen.launched.map((l) => l.distributor_id.split("_")[0]);
      assert.deepEqual([...new Set(launchedIds)], [submitted]);
      const jobs = new Set(sacctByPrefix(second.tagPrefix).map((f) => f[0]!.split("_")[0]));
      assert.deepEqual([...jobs], [submitted]);
    } finally {
      await env.stop();
    }
  });

  test("a restarted bridge re-adopts its jobs from its state file", async () => {
    const env = await startBridgeEnv();
    try {
      const batch = launchBatch(["sleep 4", "sleep 4; exit 5"]);
      const ids = batch.instances.map((i) => i.id) as [number, number];
      await env.launch(batch);
      await until(() => env.seen.launched.some((l) => l.id === ids[0]));
      await env.bridge.stop();
      const second = await env.restart();
      await until(() => ids.every((id) => second.outcomes.has(id)), 60_000);
      assert.equal(second.stats().sbatch_calls, 0);
      assert.equal(second.outcomes.get(ids[0])?.kind, "done");
      assert.equal(second.outcomes.get(ids[1])?.kind, "error");
      assert.equal(second.outcomes.get(ids[1])?.exit_code, 5);
    } finally {
      await env.stop();
    }
  });
});
