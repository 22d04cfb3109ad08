// What the runtime does with each delivery, decided by `dispatch` with a real bus
// context; bus/runtime.test.ts checks that the loop applies these outcomes to JetStream.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { z } from "zod";
import { silentLogger } from "../core/log.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { connectBus, type NatsConnection } from "./connect.ts";
import { defineConsumer } from "./consumer.ts";
import { type BusContext, busContext, type Delivery } from "./context.ts";
import { jetstream } from "./contract.ts";
import { dispatch } from "./dispatch.ts";
import { PermanentError, RetryLaterError } from "./errors.ts";

const In = jetstream({ subject: "d.in.*", schema: z.object({ v: z.literal(1), n: z.number() }) });

let nats: TestNats;
let nc: NatsConnection;
let ctx: BusContext;

before(async () => {
  nats = await startNats();
  nc = await connectBus(nats.url, "dispatch-test");
  ctx = busContext(nc, silentLogger);
});
after(async () => {
  await nc.drain();
  await nats.stop();
});

/** A consumer whose handler does what `behave` says with each message. */
function consumer(
  behave: (n: number, ctx: BusContext & Delivery) => Promise<void>,
  maxDeliver?: number,
) {
  return defineConsumer({
    name: "d",
    contracts: [In],
    ...(maxDeliver ? { maxDeliver } : {}),
    handle: (msg, c) => behave(msg.data.n, c),
  });
}

const bytes = (text: string) => new TextEncoder().encode(text);
const message = (data: string, delivery = 1, subject = "d.in.x") => ({
  subject,
  data: bytes(data),
  delivery,
});

describe("dispatch", () => {
  test("a handler that returns: ack, with the message parsed by its contract", async () => {
    const seen: { n: number; delivery: number }[] = [];
    const def = consumer(async (n, c) => {
      seen.push({ n, delivery: c.delivery });
    });
    assert.deepEqual(await dispatch(def, message('{"v":1,"n":7}', 3), ctx), { ack: true });
    assert.deepEqual(seen, [{ n: 7, delivery: 3 }]);
  });

  test("what can never parse is dead-lettered with the reason, never handled", async () => {
    let called = false;
    const def = consumer(async () => {
      called = true;
    });
    const notJson = await dispatch(def, message("{garbage"), ctx);
    assert.match("deadLetter" in notJson ? notJson.deadLetter : "", /^payload is not JSON/);
    const invalid = await dispatch(def, message('{"v":1,"n":"seven"}'), ctx);
    assert.match(
      "deadLetter" in invalid ? invalid.deadLetter : "",
      /^invalid d\.in\.x message.*n/s,
    );
    const stranger = await dispatch(def, message('{"v":1,"n":1}', 1, "elsewhere"), ctx);
    assert.deepEqual(stranger, { deadLetter: "no handler for subject elsewhere" });
    assert.equal(called, false);
  });

  test("PermanentError: dead letter with the handler's reason", async () => {
    const def = consumer(async () => {
      throw new PermanentError("workflow 42 does not exist");
    });
    assert.deepEqual(await dispatch(def, message('{"v":1,"n":1}'), ctx), {
      deadLetter: "workflow 42 does not exist",
    });
  });

  test("RetryLaterError: nak after its delay; other errors: nak with a growing backoff", async () => {
    const later = new RetryLaterError("bridge busy", 1234);
    const def = consumer(async () => {
      throw later;
    });
    assert.deepEqual(await dispatch(def, message('{"v":1,"n":1}'), ctx), {
      nak: 1234,
      error: later,
    });
    const boom = new Error("database is restarting");
    const failing = consumer(async () => {
      throw boom;
    });
    const first = await dispatch(failing, message('{"v":1,"n":1}', 1), ctx);
    const fifth = await dispatch(failing, message('{"v":1,"n":1}', 5), ctx);
    assert.ok("nak" in first && "nak" in fifth);
    assert.equal(first.error, boom);
    assert.ok(first.nak >= 150 && first.nak <= 250, String(first.nak));
    assert.ok(fifth.nak >= 2400 && fifth.nak <= 4000, String(fifth.nak));
  });

  test("a failure on the last delivery is dead-lettered instead of looping", async () => {
    const def = consumer(async () => {
      throw new Error("still broken");
    }, 3);
    assert.ok("nak" in (await dispatch(def, message('{"v":1,"n":1}', 2), ctx)));
    assert.deepEqual(await dispatch(def, message('{"v":1,"n":1}', 3), ctx), {
      deadLetter: "gave up after 3 deliveries: still broken",
    });
  });
});
