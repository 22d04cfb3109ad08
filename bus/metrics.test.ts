// The bus's metrics as Prometheus scrapes them: a real consumer on a private nats-server,
// scraped over HTTP while it works. Lag, handled, failed, redelivered and dead-lettered
// messages are counted exactly; Slurm command calls are counted on real programs.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import { localUserToken } from "../core/identity.ts";
import { silentLogger } from "../core/log.ts";
import { type MetricsServer, startMetricsServer } from "../core/metrics.ts";
import { SlurmCommands } from "../slurm-bridge/commands.ts";
import { has, scrape, total } from "../test/helpers/metrics.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { connectBus, type NatsConnection } from "./connect.ts";
import { clusterConsumer } from "./consumer.ts";
import { Contracts } from "./contracts.ts";
import { RetryLaterError } from "./errors.ts";
import { createPublisher } from "./publish.ts";
import { startConsumer } from "./runtime.ts";
import type { LaunchBatch } from "./schemas.ts";

let nats: TestNats;
let nc: NatsConnection;
let server: MetricsServer;
let url: string;

before(async () => {
  nats = await startNats();
  nc = await connectBus(nats.url, "metrics-test");
  server = await startMetricsServer({ port: 0, log: silentLogger, host: "127.0.0.1" });
  url = `http://127.0.0.1:${server.port}/metrics`;
});

after(async () => {
  await server.close();
  await nc.drain();
  await nats.stop();
});

const batch = (id: number, cluster: string): LaunchBatch => ({
  v: 1,
  batch_id: id,
  workflow_id: 1,
  cluster,
  queue: "all.q",
  resources: { cores: 1, memory_bytes: 1 << 30, runtime_seconds: 60, project: null },
  heartbeat_seconds: 30,
  instances: [{ id, task_id: id, step: 0, attempt: 1, name: `t${id}`, command: "true" }],
});

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("a consumer's lag, outcomes and durations are what it did", async () => {
  const cluster = "metrics";
  const consumer = Contracts.launch.durable!(cluster);
  const stream = Contracts.launch.personStream!(localUserToken());
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const failedOnce = new Set<number>();
  const fn = await startConsumer(
    clusterConsumer(Contracts.launch, cluster, localUserToken(), {
      concurrency: 1,
      handle: async (msg) => {
        await released;
        const id = msg.data.batch_id;
        if (id === 2 && !failedOnce.has(id)) {
          failedOnce.add(id);
          throw new RetryLaterError("not yet", 50);
        }
      },
    }),
    { nc, log: silentLogger },
  );
  try {
    const publisher = createPublisher(nc, jetstream(nc));
    for (let id = 1; id <= 5; id++) await publisher.publish(Contracts.launch, batch(id, cluster));
    // Not JSON: dead-lettered whenever it is reached.
    await jetstream(nc).publish(`launch.${cluster}.${localUserToken()}`, "{not json");

    const labels = { stream, consumer };
    let s = await scrape(url);
    // The handler holds the first message: all six wait (pending or delivered, unacked).
    assert.equal(
      total(s, "drover_consumer_pending_messages", labels) +
        total(s, "drover_consumer_ack_pending_messages", labels),
      6,
    );
    assert.equal(total(s, "drover_messages_handled_total", { consumer }), 0);

    release();
    const counted = { consumer, subject: Contracts.launch.subject };
    await eventually("all settled", async () => {
      s = await scrape(url);
      return (
        total(s, "drover_messages_handled_total", counted) === 5 &&
        total(s, "drover_dead_letters_total", counted) === 1
      );
    });
    assert.equal(total(s, "drover_messages_failed_total", counted), 1);
    assert.equal(total(s, "drover_messages_redelivered_total", counted), 1);
    assert.equal(
      total(s, "drover_handler_duration_seconds_count", { ...counted, outcome: "ack" }),
      5,
    );
    assert.equal(
      total(s, "drover_handler_duration_seconds_count", { ...counted, outcome: "nak" }),
      1,
    );
    assert.equal(
      total(s, "drover_handler_duration_seconds_count", { ...counted, outcome: "dead_letter" }),
      1,
    );
    await eventually("no lag left", async () => {
      s = await scrape(url);
      return (
        total(s, "drover_consumer_pending_messages", labels) +
          total(s, "drover_consumer_ack_pending_messages", labels) ===
        0
      );
    });
    assert.ok(has(s, "drover_consumer_pending_messages", labels));
    assert.ok(has(s, "process_cpu_seconds_total"), "process metrics are served");
  } finally {
    await fn.stop();
  }
  // A stopped consumer's lag is no longer reported by this process.
  const s = await scrape(url);
  assert.ok(!has(s, "drover_consumer_pending_messages", { consumer }));
});

test("Slurm commands are counted by command and outcome, with their durations", async () => {
  const cmds = new SlurmCommands({ sbatch: "true", sacct: "false" });
  await cmds.run("sbatch", []);
  await cmds.run("sbatch", []);
  await cmds.run("sacct", []);
  const s = await scrape(url);
  assert.equal(total(s, "drover_slurm_commands_total", { command: "sbatch", outcome: "ok" }), 2);
  assert.equal(total(s, "drover_slurm_commands_total", { command: "sacct", outcome: "failed" }), 1);
  assert.equal(total(s, "drover_slurm_command_duration_seconds_count", { command: "sbatch" }), 2);
  assert.ok(total(s, "drover_slurm_command_duration_seconds_sum", { command: "sbatch" }) > 0);
});
