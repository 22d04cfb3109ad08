import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import { Contracts, streamNameFor } from "../bus/contracts.ts";
import { createPublisher, encodeFor, type Publisher } from "../bus/publish.ts";
import type {
  LaunchBatch,
  TiDone,
  TiError,
  TiHeartbeat,
  TiLaunched,
  TiRunning,
} from "../bus/schemas.ts";
import { ensureSharedStreams } from "../bus/streams.ts";
import { localUserToken } from "../core/identity.ts";
import { silentLogger } from "../core/log.ts";
import { asMine, withoutOwner } from "../test/helpers/bus.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { treeMembers } from "../worker/proc.ts";
import { type LocalBridge, startLocalBridge } from "./bridge.ts";

let nats: TestNats;
let nc: NatsConnection;
let bridge: LocalBridge;
let publisher: Publisher;
let logDir: string;

type Result =
  | { kind: "done"; entry: TiDone["results"][number] }
  | { kind: "error"; entry: TiError["results"][number] };

/** Everything the bridge published, as core NATS sees it. */
const seen = {
  launched: [] as TiLaunched[],
  running: [] as TiRunning[],
  heartbeats: [] as TiHeartbeat[],
  done: [] as TiDone[],
  errors: [] as TiError[],
  bridgeBeats: [] as { subject: string; live_instances: number; bridge_id: string }[],
  results: new Map<number, Result[]>(),
  runningAt: new Map<number, number>(),
};

let nextId = 1000;
const ids = (n: number) => Array.from({ length: n }, () => ++nextId);

before(async () => {
  nats = await startNats();
  nc = await connectBus(nats.url, "bridge-test");
  // Result subjects need a stream to be published with JetStream (the functions that
  // consume them are not running here).
  await ensureSharedStreams(await jetstreamManager(nc));
  nc.subscribe("ti.>", {
    callback: (_err, m) => {
      const data = m.json<unknown>();
      if (withoutOwner(m.subject) === "ti.launched") seen.launched.push(data as TiLaunched);
      if (withoutOwner(m.subject) === "ti.running") {
        seen.running.push(data as TiRunning);
        for (const i of (data as TiRunning).instances) seen.runningAt.set(i.id, Date.now());
      }
      if (withoutOwner(m.subject) === "ti.heartbeat") seen.heartbeats.push(data as TiHeartbeat);
      if (withoutOwner(m.subject) === "ti.done") {
        seen.done.push(data as TiDone);
        for (const r of (data as TiDone).results) addResult(r.id, { kind: "done", entry: r });
      }
      if (withoutOwner(m.subject) === "ti.error") {
        seen.errors.push(data as TiError);
        for (const r of (data as TiError).results) addResult(r.id, { kind: "error", entry: r });
      }
    },
  });
  nc.subscribe("bridge.heartbeat.>", {
    callback: (_err, m) => {
      const beat = m.json<{ live_instances: number; bridge_id: string }>();
      seen.bridgeBeats.push({ subject: withoutOwner(m.subject), ...beat });
    },
  });
  await nc.flush();
  publisher = createPublisher(nc, jetstream(nc));
  logDir = mkdtempSync(join(tmpdir(), "drover-bridge-logs-"));
  bridge = await startLocalBridge({
    nc,
    log: silentLogger,
    slots: 2,
    logDir,
    killGraceMs: 1000,
    bridgeHeartbeatMs: 300,
  });
});

after(async () => {
  await bridge.stop();
  await nc.drain();
  await nats.stop();
  rmSync(logDir, { recursive: true, force: true });
});

function addResult(id: number, result: Result): void {
  const list = seen.results.get(id) ?? [];
  list.push(result);
  seen.results.set(id, list);
}

async function until<T>(
  get: () => T | undefined | false,
  ms = 15_000,
  what = "condition",
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`${what} not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const resultOf = (id: number, ms = 15_000) =>
  until(() => seen.results.get(id)?.[0], ms, `result of instance ${id}`);

let batchId = 0;
interface LaunchOptions {
  cluster?: string;
  memory?: number;
  runtime?: number;
  heartbeat?: number;
  attempts?: number[];
  workflowId?: number;
  limits?: LaunchBatch["limits"];
}

async function launch(instanceIds: number[], commands: string | string[], o: LaunchOptions = {}) {
  const cluster = o.cluster ?? "local";
  const batch: LaunchBatch = {
    v: 1,
    batch_id: ++batchId,
    workflow_id: o.workflowId ?? 7,
    cluster,
    queue: "all.q",
    resources: {
      cores: 1,
      memory_bytes: o.memory ?? 1024 ** 3,
      runtime_seconds: o.runtime ?? 600,
    },
    heartbeat_seconds: o.heartbeat ?? 30,
    ...(o.limits ? { limits: o.limits } : {}),
    instances: instanceIds.map((id, step) => ({
      id,
      task_id: id + 100_000,
      step,
      attempt: o.attempts?.[step] ?? 1,
      name: `task_${id}`,
      command: Array.isArray(commands) ? commands[step]! : commands,
    })),
  };
  await publisher.publish(Contracts.launch, batch);
  return batch;
}

function outputOf(id: number, stream: "out" | "err", workflowId = 7): string {
  return readFileSync(join(logDir, String(workflowId), `task_${id}.${id}.${stream}`), "utf8");
}

const MiB = 1024 * 1024;
type Eight = [number, number, number, number, number, number, number, number];

describe("local bridge: local and sequential clusters", () => {
  test("a command that succeeds: launched, running, done with usage; output files and env", async () => {
    const [id] = ids(1) as [number];
    await launch(
      [id],
      'echo "env $DROVER_WORKFLOW_ID $DROVER_TASK_ID $DROVER_TASK_INSTANCE_ID $DROVER_ATTEMPT $DROVER_CLUSTER"; ' +
        "echo to-stderr >&2; " +
        'python3 -c "x=bytearray(80*1024*1024); import time; time.sleep(1)"',
      { workflowId: 7 },
    );
    const result = await resultOf(id);
    assert.equal(result.kind, "done");
    const done = result.entry as TiDone["results"][number];
    assert.equal(done.exit_code, 0);
    assert.equal(done.node, hostname());
    assert.ok(done.runtime_used! >= 1 && done.runtime_used! < 5, `runtime ${done.runtime_used}`);
    assert.ok(done.memory_used! >= 80 * MiB, `peak memory ${done.memory_used}`);
    assert.ok(done.memory_used! < 400 * MiB, `peak memory ${done.memory_used}`);

    const launched = seen.launched.flatMap((m) => m.instances).find((i) => i.id === id);
    assert.ok(launched);
    assert.equal(launched.distributor_id, `local-${process.pid}-${id}`);
    assert.equal(launched.stdout, join(logDir, "7", `task_${id}.${id}.out`));
    assert.equal(launched.stderr, join(logDir, "7", `task_${id}.${id}.err`));
    const running = seen.running.flatMap((m) => m.instances).find((i) => i.id === id);
    assert.deepEqual(running, { id, node: hostname(), distributor_id: launched.distributor_id });

    assert.equal(outputOf(id, "out"), `env 7 ${id + 100_000} ${id} 1 local\n`);
    assert.equal(outputOf(id, "err"), "to-stderr\n");
  });

  test("a failing command: error with its exit code and the last 10 KB of stderr", async () => {
    const [id] = ids(1) as [number];
    await launch([id], "head -c 30000 /dev/zero | tr '\\0' e >&2; echo END >&2; echo out; exit 3");
    const result = await resultOf(id);
    assert.equal(result.kind, "error");
    const err = result.entry as TiError["results"][number];
    assert.equal(err.kind, "error");
    assert.equal(err.exit_code, 3);
    assert.equal(err.message, "exited with code 3");
    assert.equal(err.stderr_tail?.length, 10 * 1024);
    assert.match(err.stderr_tail!, /^e+END\n$/);
    assert.equal(outputOf(id, "err").length, 30_004);
  });

  test("over its runtime: killed and reported as a runtime error", async () => {
    const [id] = ids(1) as [number];
    const t0 = Date.now();
    await launch([id], "sleep 30", { runtime: 1 });
    const result = await resultOf(id);
    const elapsed = Date.now() - t0;
    assert.equal(result.kind, "error");
    const err = result.entry as TiError["results"][number];
    assert.equal(err.kind, "runtime");
    assert.match(err.message, /runtime limit of 1 s/);
    assert.ok(elapsed < 4000, `took ${elapsed} ms`);
  });

  test("over its memory: killed and reported as a memory error", async () => {
    const [id] = ids(1) as [number];
    await launch(
      [id],
      'python3 -c "x=bytearray(200*1024*1024); import time; time.sleep(5)"; echo survived',
      { memory: 100 * MiB },
    );
    const result = await resultOf(id);
    assert.equal(result.kind, "error");
    const err = result.entry as TiError["results"][number];
    assert.equal(err.kind, "memory");
    assert.match(err.message, /memory limit of 100 MiB/);
    // At least its limit: a memory cgroup stops it there, sampling a little past it.
    assert.ok(err.memory_used! >= 100 * MiB, `peak ${err.memory_used}`);
    assert.ok(err.runtime_used! < 4, `runtime ${err.runtime_used}`);
    assert.equal(outputOf(id, "out"), "");
  });

  test("sequential runs one command at a time", async () => {
    const batchIds = ids(3);
    await launch(batchIds, "date +%s%N; sleep 0.3; date +%s%N", { cluster: "sequential" });
    for (const id of batchIds) assert.equal((await resultOf(id)).kind, "done");
    const spans = batchIds
      .map((id) => outputOf(id, "out").trim().split("\n").map(Number) as [number, number])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      assert.ok(spans[i]![0] >= spans[i - 1]![1], `command ${i} started before ${i - 1} ended`);
    }
  });

  test("local with 2 slots runs four 1-second commands in about 2 seconds", async () => {
    const batchIds = ids(4);
    const t0 = Date.now();
    await launch(batchIds, "sleep 1");
    for (const id of batchIds) assert.equal((await resultOf(id)).kind, "done");
    const elapsed = Date.now() - t0;
    console.log(`4 x sleep 1 on 2 slots: ${elapsed} ms`);
    assert.ok(elapsed >= 1900 && elapsed < 3500, `took ${elapsed} ms`);
  });

  test("heartbeats list live instances every heartbeat_seconds; the bridge heartbeats too", async () => {
    const [id] = ids(1) as [number];
    await launch([id], "sleep 2.2", { heartbeat: 0.5 });
    const ran = (await resultOf(id)).entry.runtime_used!;
    const beats = seen.heartbeats.filter((h) => h.instance_ids.includes(id));
    assert.ok(
      beats.length >= 3 && beats.length <= Math.ceil(ran / 0.5) + 1,
      `${beats.length} heartbeats in ${ran} s`,
    );
    const mine = seen.bridgeBeats.filter((b) => b.bridge_id === bridge.id);
    for (const cluster of ["local", "sequential", "dummy"]) {
      assert.ok(
        mine.some((b) => b.subject === `bridge.heartbeat.${cluster}`),
        cluster,
      );
    }
    assert.ok(mine.some((b) => b.subject === "bridge.heartbeat.local" && b.live_instances === 1));
  });

  test("a kill order kills a running command and all its children; queued ones are dropped", async () => {
    const pidFile = join(logDir, "kill.pid");
    const [running, queued] = ids(2) as [number, number];
    // The tree ignores SIGTERM: it takes the SIGKILL after the grace.
    await launch(
      [running, queued],
      [`echo $$ > ${pidFile}; trap '' TERM; sleep 300 & sleep 301 & wait`, "sleep 300"],
      { cluster: "sequential" },
    );
    await until(() => seen.runningAt.has(running) && existsSync(pidFile));
    await new Promise((r) => setTimeout(r, 200));
    const leader = Number(readFileSync(pidFile, "utf8"));
    assert.equal(treeMembers(leader).length, 3);
    await publisher.publish(
      Contracts.kill,
      { v: 1, instance_ids: [running, queued, 987_654_321], reason: "workflow stopped" },
      "sequential",
    );
    const killed = await resultOf(running);
    const dropped = await resultOf(queued);
    assert.equal(killed.kind, "error");
    assert.equal((killed.entry as TiError["results"][number]).kind, "killed");
    assert.match((killed.entry as TiError["results"][number]).message, /workflow stopped/);
    assert.equal((dropped.entry as TiError["results"][number]).kind, "killed");
    assert.match((dropped.entry as TiError["results"][number]).message, /before it started/);
    assert.equal(seen.runningAt.has(queued), false);
    assert.deepEqual(treeMembers(leader), []);
  });

  test("limits: a paused workflow's commands wait (killable); an older order changes nothing, a newer one lets them run", async () => {
    const [a, b] = ids(2) as [number, number];
    const limits = (version: number, workflow: number | null) => ({
      version,
      workflow,
      templates: {},
    });
    const order = (version: number, workflow: number | null) =>
      publisher.publish(
        Contracts.limits,
        { v: 1, workflow_id: 8, limits: limits(version, workflow) },
        "local",
      );
    await launch([a, b], "echo ran", { workflowId: 8, limits: limits(3, 0) });
    await until(() => seen.launched.some((m) => m.instances.some((i) => i.id === a)));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(seen.runningAt.has(a), false, "paused: nothing starts");
    await order(2, 5);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(seen.runningAt.has(a), false, "an older order is not taken");
    await publisher.publish(
      Contracts.kill,
      { v: 1, instance_ids: [b], reason: "stopped" },
      "local",
    );
    const dropped = await resultOf(b);
    assert.equal((dropped.entry as TiError["results"][number]).kind, "killed");
    assert.match((dropped.entry as TiError["results"][number]).message, /before it started/);
    await order(4, 1);
    assert.equal((await resultOf(a)).kind, "done");
    assert.equal(outputOf(a, "out", 8), "ran\n");
  });

  test("a launch delivered twice is announced twice and run once", async () => {
    const batchIds = ids(2);
    const batch = await launch(batchIds, "echo once");
    for (const id of batchIds) await resultOf(id);
    // Without its message id, as when it comes again after the dedupe window.
    const again = encodeFor(localUserToken(), Contracts.launch, batch);
    await jetstream(nc).publish(again.subject, again.payload);
    await until(
      () => seen.launched.filter((m) => m.instances.some((i) => i.id === batchIds[0])).length === 2,
    );
    await new Promise((r) => setTimeout(r, 300));
    for (const id of batchIds) assert.equal(seen.results.get(id)?.length, 1);
  });
});

describe("local bridge: NATS restarts", () => {
  test("a result produced while NATS is down is published once it is back", async () => {
    const [id] = ids(1) as [number];
    await launch([id], "sleep 1; echo finished");
    await until(() => seen.runningAt.has(id));
    await nats.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await nats.restart();
    // Core subscribers may miss what was published while they reconnected: ask the stream.
    let found = false;
    const end = Date.now() + 20_000;
    while (!found && Date.now() < end) {
      try {
        const jsm = await jetstreamManager(nc);
        const m = await jsm.streams.getMessage(streamNameFor("complete"), {
          last_by_subj: asMine("ti.done"),
        });
        found = m?.json<TiDone>().results.some((r) => r.id === id) ?? false;
      } catch {
        // not reconnected yet
      }
      if (!found) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(found, "ti.done published after the restart");
    assert.equal(outputOf(id, "out"), "finished\n");
    // The bridge still takes work.
    const [next] = ids(1) as [number];
    await launch([next], "x", { cluster: "dummy" });
    assert.equal((await resultOf(next, 20_000)).kind, "done");
  });
});

describe("local bridge: dummy cluster", () => {
  test("dummy words", async () => {
    const [ok, fail, oom, timeout, sleep, ff1, ff2, ff3] = ids(8) as Eight;
    const t0 = Date.now();
    const before = { launched: seen.launched.length, running: seen.running.length };
    await launch(
      [ok, fail, oom, timeout, ff1, ff2, ff3],
      [
        "python3 never_runs.py",
        "x @dummy:fail",
        "x @dummy:oom",
        "x @dummy:timeout",
        "x @dummy:fail-first=2",
        "x @dummy:fail-first=2",
        "x @dummy:fail-first=2",
      ],
      { cluster: "dummy", attempts: [1, 1, 1, 1, 1, 2, 3] },
    );
    await launch([sleep], "x @dummy:sleep=2", { cluster: "dummy" });
    const kindOf = async (id: number) => {
      const r = await resultOf(id);
      return r.kind === "done" ? "done" : r.entry.kind;
    };
    assert.equal(await kindOf(ok), "done");
    assert.equal(await kindOf(fail), "error");
    assert.equal((await resultOf(fail)).entry.exit_code, 1);
    assert.equal(await kindOf(oom), "memory");
    assert.equal(await kindOf(timeout), "runtime");
    assert.equal(await kindOf(ff1), "error");
    assert.equal(await kindOf(ff2), "error");
    assert.equal(await kindOf(ff3), "done");
    assert.ok(Date.now() - t0 < 1500, "immediate outcomes do not wait for the sleeper");
    assert.equal(seen.results.has(sleep), false);
    assert.equal(await kindOf(sleep), "done");
    const slept = Date.now() - t0;
    assert.ok(slept >= 2000 && slept < 3500, `slept ${slept} ms`);
    // One announcement per batch; running reports of batches close together may share
    // a message (the reporter lingers), never more than one per batch.
    assert.equal(seen.launched.length - before.launched, 2);
    const running = seen.running.length - before.running;
    assert.ok(running >= 1 && running <= 2, `${running} running messages`);
  });

  test("a sleeping dummy can be killed", async () => {
    const [id] = ids(1) as [number];
    await launch([id], "@dummy:sleep=30", { cluster: "dummy" });
    await until(() => seen.runningAt.has(id));
    await publisher.publish(
      Contracts.kill,
      { v: 1, instance_ids: [id], reason: "cold resume" },
      "dummy",
    );
    const r = await resultOf(id, 3000);
    assert.equal(r.kind === "error" && r.entry.kind, "killed");
  });

  test("10,000 dummy instances are reported in a few messages, quickly", async () => {
    const before = {
      launched: seen.launched.length,
      running: seen.running.length,
      done: seen.done.length,
    };
    const all = ids(10_000);
    const t0 = performance.now();
    const batches: Promise<LaunchBatch>[] = [];
    for (let i = 0; i < all.length; i += 1000) {
      batches.push(launch(all.slice(i, i + 1000), "python3 work.py --n 1", { cluster: "dummy" }));
    }
    await Promise.all(batches);
    const last = all[all.length - 1]!;
    await until(() => all.every((id) => seen.results.has(id)) || undefined, 30_000, "all results");
    const ms = performance.now() - t0;
    const messages = {
      launched: seen.launched.length - before.launched,
      running: seen.running.length - before.running,
      done: seen.done.length - before.done,
    };
    console.log(
      `10,000 dummy instances in 10 batches: ${ms.toFixed(0)} ms (${Math.round(10_000 / (ms / 1000))}/s), messages ${JSON.stringify(messages)}`,
    );
    assert.equal(seen.results.get(last)?.[0]?.kind, "done");
    assert.equal(messages.launched, 10);
    assert.ok(messages.running <= 20, `${messages.running} ti.running`);
    assert.ok(messages.done <= 20, `${messages.done} ti.done`);
  });
});

describe("local bridge: stopping", () => {
  test("stop reports running and queued instances as lost and leaves no process", async () => {
    const pidFile = join(logDir, "stop.pid");
    const [running, queued, sleeper] = ids(3) as [number, number, number];
    await launch([running, queued], [`echo $$ > ${pidFile}; sleep 300`, "sleep 300"], {
      cluster: "sequential",
    });
    await launch([sleeper], "@dummy:sleep=300", { cluster: "dummy" });
    await until(
      () => seen.runningAt.has(running) && seen.runningAt.has(sleeper) && existsSync(pidFile),
    );
    await new Promise((r) => setTimeout(r, 100));
    const leader = Number(readFileSync(pidFile, "utf8"));
    await bridge.stop();
    for (const id of [running, queued, sleeper]) {
      const r = await resultOf(id, 3000);
      assert.equal(r.kind, "error");
      const err = r.entry as TiError["results"][number];
      assert.equal(err.kind, "lost");
      assert.equal(err.message, "bridge stopped");
    }
    assert.deepEqual(treeMembers(leader), []);
  });
});
