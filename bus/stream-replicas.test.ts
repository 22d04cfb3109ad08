// Stream replicas on a real 3-server JetStream cluster (loopback): streams are raised to
// the configured copies, and a process that does not set them (a bridge) leaves them be.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { freePort } from "../test/helpers/nats.ts";
import { connectBus, type NatsConnection } from "./connect.ts";
import { Streams as SharedStreams, streamNameFor } from "./contracts.ts";
import { ensureConsumer, ensureSharedStreams } from "./streams.ts";

interface Server {
  child: ChildProcess;
  dir: string;
  output: () => string;
}

async function startCluster(size: number): Promise<{ urls: string[]; servers: Server[] }> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = await Promise.all(Array.from({ length: size }, () => freePort()));
  const servers = ports.map((port, i) => {
    const dir = mkdtempSync(join(tmpdir(), "drover-nats-cluster-"));
    const child = spawn(
      process.env.NATS_SERVER_BIN ?? "nats-server",
      [
        ...["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir, "-n", `s${i}`],
        ...["--cluster_name", "drover-test", "--cluster", `nats://127.0.0.1:${routes[i]}`],
        ...["--routes", routes.map((r) => `nats://127.0.0.1:${r}`).join(",")],
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/local/sbin` },
      },
    );
    let output = "";
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    return { child, dir, output: () => output };
  });
  const deadline = Date.now() + 20_000;
  while (!servers.every((s) => s.output().includes("Server is ready"))) {
    const dead = servers.find((s) => s.child.exitCode !== null);
    assert.ok(!dead, `nats-server exited: ${dead?.output()}`);
    assert.ok(Date.now() < deadline, "nats-servers did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return { urls: ports.map((p) => `nats://127.0.0.1:${p}`), servers };
}

describe("stream replicas on a JetStream cluster", { timeout: 120_000 }, () => {
  let servers: Server[];
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const replicasOf = async (stream: string) => (await jsm.streams.info(stream)).config.num_replicas;

  before(async () => {
    const cluster = await startCluster(3);
    servers = cluster.servers;
    nc = await connectBus(cluster.urls.join(","), "replicas-test");
    jsm = await jetstreamManager(nc, { checkAPI: false });
    // Until the cluster has elected its metadata leader, JetStream requests fail.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await ensureSharedStreams(jsm);
        break;
      } catch (err) {
        const logs = servers.map((s) => s.output()).join("\n");
        assert.ok(
          Date.now() < deadline,
          `no JetStream cluster: ${(err as Error).message}\n${logs}`,
        );
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  });
  after(async () => {
    await nc?.close();
    for (const s of servers ?? []) {
      s.child.kill("SIGKILL");
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  const names = () => [streamNameFor("schedule"), SharedStreams.dlq.name];

  test("unset, streams are created with the server's default of one copy", async () => {
    for (const name of names()) assert.equal(await replicasOf(name), 1, name);
  });

  test("set to 3, existing streams are raised to 3 copies, their consumers with them", async () => {
    await ensureSharedStreams(jsm, { replicas: 3 });
    await ensureConsumer(
      jsm,
      {
        stream: streamNameFor("schedule"),
        subjects: ["wf.bound", "sched.wake"],
        durable: "schedule",
        ackWaitMs: 30_000,
        maxDeliver: 10,
      },
      { replicas: 3 },
    );
    for (const name of names()) assert.equal(await replicasOf(name), 3, name);
    const consumer = await jsm.consumers.info(streamNameFor("schedule"), "schedule");
    assert.equal(consumer.cluster?.replicas?.length, 2, "a leader and two followers");
  });

  test("a later process that does not set them (a bridge) leaves them at 3", async () => {
    await ensureSharedStreams(jsm);
    for (const name of names()) assert.equal(await replicasOf(name), 3, name);
  });
});
