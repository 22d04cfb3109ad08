// The health endpoint against a real NATS and Postgres: what each probe answers while
// starting, running, after a consumer vanished, with NATS or Postgres away, and draining.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import { ensureConsumer } from "../bus/streams.ts";
import { loadConfig } from "../core/config.ts";
import { silentLogger } from "../core/log.ts";
import { createSql } from "../store/connect.ts";
import { type FreshDatabase, freshDatabase } from "../test/helpers/db.ts";
import { freePort, startNats, type TestNats } from "../test/helpers/nats.ts";
import { HEALTH_PATHS, type HealthServer, startHealthServer } from "./health.ts";

const CONSUMER = { stream: "HEALTH_TEST", durable: "health-test" };

interface Answer {
  status: number;
  body: { ok: boolean; state: string; checks: Record<string, { ok: boolean; error?: string }> };
}

async function get(port: number, path: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

test("the endpoint is off unless a port is configured", () => {
  assert.equal(loadConfig({}, {}).healthPort, 0);
  assert.equal(loadConfig({}, { DROVER_HEALTH_PORT: "8081" }).healthPort, 8081);
  assert.throws(() => loadConfig({}, { DROVER_HEALTH_PORT: "http" }), /DROVER_HEALTH_PORT/);
});

describe("health endpoint", { timeout: 120_000 }, () => {
  let nats: TestNats;
  let db: FreshDatabase;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let health: HealthServer;

  before(async () => {
    [nats, db] = await Promise.all([startNats(), freshDatabase()]);
    nc = await connectBus(nats.url, "health-test");
    jsm = await jetstreamManager(nc);
    health = await startHealthServer({ port: await freePort(), log: silentLogger, timeoutMs: 500 });
  });
  after(async () => {
    await health.close();
    await nc.close();
    await Promise.all([nats.stop(), db.drop()]);
  });

  const ensure = () =>
    ensureConsumer(jsm, {
      ...CONSUMER,
      subjects: ["health.test"],
      ackWaitMs: 30_000,
      maxDeliver: 3,
    });

  test("starting: live, not ready", async () => {
    const live = await get(health.port, HEALTH_PATHS.live);
    const ready = await get(health.port, HEALTH_PATHS.ready);
    assert.equal(live.status, 200);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.state, "starting");
  });

  test("running with NATS, Postgres and its consumer up: live and ready", async () => {
    await ensure();
    health.running({ nc, sql: db.sql, consumers: [CONSUMER] });
    const ready = await get(health.port, HEALTH_PATHS.ready);
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.deepEqual(Object.keys(ready.body.checks).sort(), [
      "consumer HEALTH_TEST/health-test",
      "nats",
      "postgres",
    ]);
    assert.equal((await get(health.port, HEALTH_PATHS.live)).status, 200);
  });

  test("a consumer gone from the server: neither live nor ready (a restart recreates it)", async () => {
    await jsm.consumers.delete(CONSUMER.stream, CONSUMER.durable);
    const live = await get(health.port, HEALTH_PATHS.live);
    assert.equal(live.status, 503);
    assert.equal(live.body.checks["consumer HEALTH_TEST/health-test"]?.ok, false);
    assert.equal((await get(health.port, HEALTH_PATHS.ready)).status, 503);
    await jsm.streams.delete(CONSUMER.stream);
    assert.equal((await get(health.port, HEALTH_PATHS.live)).status, 503, "stream gone too");
    await ensure();
    assert.equal((await get(health.port, HEALTH_PATHS.ready)).status, 200);
  });

  test("Postgres unreachable: live, not ready", async () => {
    const unreachable = createSql(`postgres://nobody@127.0.0.1:${await freePort()}/none`, {
      max: 1,
    });
    try {
      health.running({ nc, sql: unreachable, consumers: [CONSUMER] });
      const ready = await get(health.port, HEALTH_PATHS.ready);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.postgres?.ok, false);
      assert.equal(ready.body.checks.nats?.ok, true);
      assert.equal((await get(health.port, HEALTH_PATHS.live)).status, 200);
    } finally {
      health.running({ nc, sql: db.sql, consumers: [CONSUMER] });
      await unreachable.end({ timeout: 1 });
    }
  });

  test("NATS away: live (the client reconnects), not ready; ready again once it is back", async () => {
    await nats.kill();
    try {
      const ready = await get(health.port, HEALTH_PATHS.ready);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.nats?.ok, false);
      assert.equal(ready.body.checks.postgres?.ok, true);
      assert.equal((await get(health.port, HEALTH_PATHS.live)).status, 200);
    } finally {
      await nats.restart();
    }
    const deadline = Date.now() + 30_000;
    while ((await get(health.port, HEALTH_PATHS.ready)).status !== 200) {
      assert.ok(Date.now() < deadline, "not ready again after NATS came back");
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  test("stopping: live while it drains, not ready", async () => {
    health.stopping();
    assert.equal((await get(health.port, HEALTH_PATHS.live)).status, 200);
    const ready = await get(health.port, HEALTH_PATHS.ready);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.state, "stopping");
  });

  test("other paths and methods are refused", async () => {
    assert.equal((await get(health.port, "/metrics")).status, 404);
    assert.equal((await get(health.port, HEALTH_PATHS.live, { method: "POST" })).status, 405);
  });
});
