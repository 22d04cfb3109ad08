import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import type { TiDone, TiError, TiHeartbeat, TiRunning } from "../bus/schemas.ts";
import { ensureSharedStreams } from "../bus/streams.ts";
import { withoutOwner } from "../test/helpers/bus.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import type { Manifest } from "./manifest.ts";

let nats: TestNats;
let nc: NatsConnection;
let dir: string;
let bundle: string;

const seen = {
  running: [] as TiRunning["instances"],
  heartbeats: [] as number[][],
  done: [] as TiDone["results"],
  errors: [] as TiError["results"],
};

before(async () => {
  nats = await startNats();
  nc = await connectBus(nats.url, "worker-test");
  // Every function stream, as a running installation has them (none consumed here).
  await ensureSharedStreams(await jetstreamManager(nc));
  nc.subscribe("ti.>", {
    callback: (_err, m) => {
      if (withoutOwner(m.subject) === "ti.running")
        seen.running.push(...m.json<TiRunning>().instances);
      if (withoutOwner(m.subject) === "ti.heartbeat")
        seen.heartbeats.push(m.json<TiHeartbeat>().instance_ids);
      if (withoutOwner(m.subject) === "ti.done") seen.done.push(...m.json<TiDone>().results);
      if (withoutOwner(m.subject) === "ti.error") seen.errors.push(...m.json<TiError>().results);
    },
  });
  await nc.flush();
  dir = mkdtempSync(join(tmpdir(), "drover-worker-"));
  bundle = join(dir, "drover-worker.mjs");
  execFileSync(process.execPath, ["scripts/build-worker.mjs", "--outfile", bundle], {
    stdio: "ignore",
  });
});

after(async () => {
  await nc.drain();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
});

function writeManifest(name: string, commands: string[], heartbeatSeconds = 30): string {
  const manifest: Manifest = {
    nats_url: nats.url,
    cluster: "slurm",
    workflow_id: 42,
    heartbeat_seconds: heartbeatSeconds,
    instances: commands.map((command, step) => ({
      id: 500 + step + 10 * Number(name.replace(/\D/g, "") || 0),
      task_id: 9000 + step,
      step,
      attempt: 2,
      name: `${name}_${step}`,
      command,
      stdout: join(dir, "logs", `${name}_${step}.out`),
      stderr: join(dir, "logs", `${name}_${step}.err`),
      memory_bytes: 1024 ** 3,
      runtime_seconds: 60,
    })),
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(manifest));
  return path;
}

interface Run {
  code: number | null;
  stderr: string;
}

function runWorker(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  onStart?: (pid: number) => void,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    if (child.pid) onStart?.(child.pid);
    child.on("exit", (code) => resolve({ code, stderr }));
  });
}

async function until<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("worker wrapper", () => {
  test("runs the instance of its step: running, heartbeats, done, output and env", async () => {
    const manifest = writeManifest("w1", [
      "echo wrong step; exit 9",
      'echo "hi $DROVER_WORKFLOW_ID $DROVER_TASK_ID $DROVER_TASK_INSTANCE_ID $DROVER_ATTEMPT $DROVER_CLUSTER"; ' +
        'python3 -c "x=bytearray(60*1024*1024); import time; time.sleep(1.3)"',
    ]);
    // Heartbeat faster than the command runs.
    const m = JSON.parse(readFileSync(manifest, "utf8")) as Manifest;
    m.heartbeat_seconds = 0.4;
    writeFileSync(manifest, JSON.stringify(m));
    const id = 511;
    const run = await runWorker(["--manifest", manifest, "--step", "1"], {
      SLURM_ARRAY_JOB_ID: "777",
      SLURM_ARRAY_TASK_ID: "1",
    });
    assert.equal(run.code, 0, run.stderr);
    const done = await until(() => seen.done.find((r) => r.id === id));
    assert.equal(done.exit_code, 0);
    assert.equal(done.node, hostname());
    assert.ok(done.runtime_used! >= 1.3, `runtime ${done.runtime_used}`);
    assert.ok(done.memory_used! >= 60 * 1024 * 1024, `peak ${done.memory_used}`);
    assert.deepEqual(
      seen.running.find((r) => r.id === id),
      { id, node: hostname(), distributor_id: "777_1" },
    );
    const beats = seen.heartbeats.filter((ids) => ids.includes(id)).length;
    // One every 0.4 s while the command runs (python's start-up varies with the load).
    const expected = done.runtime_used! / 0.4;
    assert.ok(
      beats >= 2 && beats <= Math.ceil(expected) + 1,
      `${beats} heartbeats in ${done.runtime_used} s`,
    );
    assert.equal(
      seen.done.some((r) => r.id === 510) || seen.errors.some((r) => r.id === 510),
      false,
    );
    assert.equal(readFileSync(join(dir, "logs", "w1_1.out"), "utf8"), `hi 42 9001 ${id} 2 slurm\n`);
  });

  test("a failing command: ti.error with the stderr tail; the worker exits with its code", async () => {
    const manifest = writeManifest("w2", ["echo boom >&2; exit 3"]);
    const run = await runWorker(["--manifest", manifest], { SLURM_ARRAY_TASK_ID: "0" });
    assert.equal(run.code, 3);
    const err = await until(() => seen.errors.find((r) => r.id === 520));
    assert.equal(err.kind, "error");
    assert.equal(err.exit_code, 3);
    assert.equal(err.message, "exited with code 3");
    assert.equal(err.stderr_tail, "boom\n");
  });

  test("a command killed by a signal is an error naming the signal", async () => {
    const manifest = writeManifest("w3", ["kill -KILL $$"]);
    const run = await runWorker(["--manifest", manifest, "--step", "0"]);
    assert.equal(run.code, 128 + 9);
    const err = await until(() => seen.errors.find((r) => r.id === 530));
    assert.equal(err.kind, "error");
    assert.equal(err.exit_code, null);
    assert.equal(err.message, "killed by signal SIGKILL");
  });

  test("SIGTERM to the worker reaches the command, and is reported", async () => {
    const manifest = writeManifest("w4", ["sleep 30"]);
    let workerPid = 0;
    const running = runWorker(["--manifest", manifest, "--step", "0"], {}, (pid) => {
      workerPid = pid;
    });
    await until(() => seen.running.find((r) => r.id === 540));
    process.kill(workerPid, "SIGTERM");
    const run = await running;
    assert.equal(run.code, 128 + 15);
    const err = await until(() => seen.errors.find((r) => r.id === 540));
    assert.equal(err.message, "killed by signal SIGTERM");
  });

  test("bad invocations exit 2 with a message", async () => {
    const manifest = writeManifest("w5", ["true"]);
    const noStep = await runWorker(["--manifest", manifest], { SLURM_ARRAY_TASK_ID: "" });
    assert.equal(noStep.code, 2);
    assert.match(noStep.stderr, /no step/);
    const wrongStep = await runWorker(["--manifest", manifest, "--step", "4"]);
    assert.equal(wrongStep.code, 2);
    assert.match(wrongStep.stderr, /no instance has step 4/);
    writeFileSync(join(dir, "bad.json"), JSON.stringify({ nats_url: "x" }));
    const bad = await runWorker(["--manifest", join(dir, "bad.json"), "--step", "0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.json: .*workflow_id/s);
  });

  test("start-up time of the bundle", () => {
    const median = (args: string[]) => {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = performance.now();
        execFileSync(process.execPath, args);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      return (times[4]! + times[5]!) / 2;
    };
    const bare = median(["-e", "0"]);
    const worker = median([bundle, "--version"]);
    console.log(
      `worker start-up (node drover-worker.mjs --version), median of 10: ${worker.toFixed(0)} ms; ` +
        `bare node: ${bare.toFixed(0)} ms; ratio ${(worker / bare).toFixed(2)}`,
    );
    assert.match(
      execFileSync(process.execPath, [bundle, "--version"], { encoding: "utf8" }),
      /^drover-worker \d/,
    );
    assert.ok(worker < bare + 1000, "the bundle starts without a compile step");
  });
});
