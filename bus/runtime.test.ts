import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { z } from "zod";
import { silentLogger } from "../core/log.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { connectBus, type NatsConnection } from "./connect.ts";
import { defineConsumer } from "./consumer.ts";
import { jetstream as contract } from "./contract.ts";
import { Streams, streamNameFor } from "./contracts.ts";
import { PermanentError } from "./errors.ts";
import { type RunningFunction, startConsumer } from "./runtime.ts";

const Msg = z.object({ v: z.literal(1), n: z.number() });
/** A test subject, declared as Drover's own are. */
const subject = (s: string) => contract({ subject: s, schema: Msg });

let nats: TestNats;
let nc: NatsConnection;

before(async () => {
  nats = await startNats();
  nc = await connectBus(nats.url, "runtime-test");
});
after(async () => {
  await nc.drain();
  await nats.stop();
});

async function deadLetters(
  fn: string,
): Promise<{ reason: string; subject: string; data: string }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(Streams.dlq.name);
  const letters = [];
  for (
    let seq = info.state.first_seq;
    seq <= info.state.last_seq && info.state.messages > 0;
    seq++
  ) {
    const m = await jsm.streams.getMessage(Streams.dlq.name, { seq }).catch(() => null);
    if (m && m.subject === `dlq.${fn}`)
      letters.push(m.json<{ reason: string; subject: string; data: string }>());
  }
  return letters;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("consume runtime", () => {
  test("an invalid message is dead-lettered with its reason and the handler keeps serving", async () => {
    const seen: number[] = [];
    const fn = defineConsumer({
      name: "t1",
      contracts: [subject("t1.in")],
      handle: async (msg) => {
        seen.push(msg.data.n);
      },
    });
    const running = await startConsumer(fn, { nc, log: silentLogger });
    const js = jetstream(nc);
    await js.publish("t1.in", JSON.stringify({ v: 1, n: "not a number" }));
    await js.publish("t1.in", "{garbage");
    await js.publish("t1.in", JSON.stringify({ v: 1, n: 7 }));
    await until(() => seen.includes(7));
    await until(async () => (await deadLetters("t1")).length === 2);
    const letters = await deadLetters("t1");
    assert.match(letters[0]!.reason, /invalid t1\.in message.*n/s);
    assert.match(letters[1]!.reason, /not JSON/);
    assert.equal(letters[1]!.data, "{garbage");
    // Termed, not redelivered: the work-queue stream is empty once everything is settled.
    const jsm = await jetstreamManager(nc);
    await until(async () => (await jsm.streams.info(streamNameFor("t1"))).state.messages === 0);
    await running.stop();
    assert.deepEqual(seen, [7]);
  });

  test("a PermanentError is dead-lettered with the handler's reason", async () => {
    const fn = defineConsumer({
      name: "t2",
      contracts: [subject("t2.in")],
      handle: async () => {
        throw new PermanentError("workflow 42 does not exist");
      },
    });
    const running = await startConsumer(fn, { nc, log: silentLogger });
    await jetstream(nc).publish("t2.in", JSON.stringify({ v: 1, n: 1 }));
    await until(async () => (await deadLetters("t2")).length === 1);
    assert.equal((await deadLetters("t2"))[0]!.reason, "workflow 42 does not exist");
    await running.stop();
  });

  test("a transient failure is redelivered and then succeeds", async () => {
    const attempts: number[] = [];
    const fn = defineConsumer({
      name: "t3",
      contracts: [subject("t3.in")],
      handle: async (_msg, ctx) => {
        attempts.push(ctx.delivery);
        if (ctx.delivery < 3) throw new Error("database is restarting");
      },
    });
    const running = await startConsumer(fn, { nc, log: silentLogger });
    await jetstream(nc).publish("t3.in", JSON.stringify({ v: 1, n: 1 }));
    await until(() => attempts.length === 3);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal((await deadLetters("t3")).length, 0);
    await running.stop();
  });

  test("a message published twice with one message id is stored once", async () => {
    const seen: number[] = [];
    const fn = defineConsumer({
      name: "t4",
      contracts: [subject("t4.in")],
      handle: async (msg) => {
        seen.push(msg.data.n);
      },
    });
    const running = await startConsumer(fn, { nc, log: silentLogger });
    const js = jetstream(nc);
    const first = await js.publish("t4.in", JSON.stringify({ v: 1, n: 1 }), { msgID: "batch-1" });
    const second = await js.publish("t4.in", JSON.stringify({ v: 1, n: 1 }), { msgID: "batch-1" });
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);
    await js.publish("t4.in", JSON.stringify({ v: 1, n: 2 }), { msgID: "batch-2" });
    await until(() => seen.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(seen, [1, 2]);
    await running.stop();
  });

  test("a replica SIGKILLed mid-message: another replica gets the message", async () => {
    const took: { pid: number; n: number }[] = [];
    const sub = nc.subscribe("test.took", {
      callback: (_e, m) => {
        took.push(m.json<{ pid: number; n: number }>());
      },
    });
    const ready = nc.subscribe("test.ready", { max: 1 });
    const first = spawn(
      process.execPath,
      ["--import", "tsx", "test/fixtures/replica.ts", nats.url, "t5", "t5.in", "hang"],
      { stdio: "inherit" },
    );
    for await (const _ of ready) break;
    await jetstream(nc).publish("t5.in", JSON.stringify({ v: 1, n: 99 }));
    await until(() => took.length === 1);
    assert.equal(took[0]!.pid, first.pid);
    const exited = new Promise((r) => first.once("exit", r));
    first.kill("SIGKILL");
    await exited;
    // The second replica shares the durable consumer and receives it after ack_wait.
    const seen: number[] = [];
    const fn = defineConsumer({
      name: "t5",
      contracts: [subject("t5.in")],
      ackWaitMs: 1500,
      handle: async (msg) => {
        seen.push(msg.data.n);
      },
    });
    const running: RunningFunction = await startConsumer(fn, { nc, log: silentLogger });
    await until(() => seen.length === 1, 15_000);
    assert.deepEqual(seen, [99]);
    await running.stop();
    sub.unsubscribe();
  });
});
