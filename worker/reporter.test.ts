import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeFor } from "../bus/publish.ts";
import { silentLogger } from "../core/log.ts";
import { chunkBySize, type PublishFn, Reporter } from "./reporter.ts";

interface Sent {
  subject: string;
  data: {
    instances?: { id: number }[];
    results?: { id: number }[];
    instance_ids?: number[];
  };
  msgID?: string;
  bytes: number;
}

/** A publish that records what it is given, taking `delayMs` per message. */
function recorder(delayMs = 0, failFirst = 0) {
  const sent: Sent[] = [];
  let calls = 0;
  const publish: PublishFn = async (contract, data, ...key) => {
    calls++;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (calls <= failFirst) throw new Error("NATS is restarting");
    // Encoded as the real publisher does: validated, addressed (as "me"), with the
    // contract's id; recorded under the subject's short name (`ti.done`).
    const m = encodeFor("me", contract, data, ...key);
    sent.push({
      subject: m.subject.replace(/^ti\.me\./, "ti."),
      data: data as Sent["data"],
      ...(m.msgID ? { msgID: m.msgID } : {}),
      bytes: JSON.stringify(data).length,
    });
  };
  return { sent, publish };
}

const ids = (s: Sent) =>
  (s.data.instances ?? s.data.results ?? []).map((e) => e.id).concat(s.data.instance_ids ?? []);

describe("reporter", () => {
  test("a lone result is published at once, not after a linger", async () => {
    const { sent, publish } = recorder();
    const reporter = new Reporter(publish, silentLogger, { reporterId: "t" });
    const t0 = performance.now();
    reporter.reportResult({ done: { id: 1, exit_code: 0 } });
    await reporter.flush();
    assert.ok(performance.now() - t0 < 50);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.subject, "ti.done");
    assert.equal(sent[0]!.msgID?.startsWith("done-"), true);
  });

  test("results that pile up during a publish go out together, within the caps", async () => {
    const { sent, publish } = recorder(20);
    const reporter = new Reporter(publish, silentLogger, { reporterId: "t", maxCount: 100 });
    reporter.reportResult({ done: { id: 1, exit_code: 0 } });
    await new Promise((r) => setImmediate(r));
    for (let id = 2; id <= 251; id++) reporter.reportResult({ done: { id, exit_code: 0 } });
    await reporter.flush();
    assert.deepEqual(
      sent.map((s) => ids(s).length),
      [1, 100, 100, 50],
    );
  });

  test("stderr tails are capped by bytes", async () => {
    const { sent, publish } = recorder();
    const reporter = new Reporter(publish, silentLogger, { reporterId: "t", maxBytes: 100_000 });
    const tail = "x".repeat(10_240);
    for (let id = 1; id <= 30; id++) {
      reporter.reportResult({
        error: {
          id,
          kind: "error",
          exit_code: 1,
          message: "exited with code 1",
          stderr_tail: tail,
        },
      });
    }
    await reporter.flush();
    assert.ok(sent.length >= 4);
    for (const s of sent) assert.ok(s.bytes <= 100_000, `${s.bytes} bytes`);
    assert.equal(sent.flatMap(ids).length, 30);
  });

  test("an instance is never reported done before it is reported running", async () => {
    const { sent, publish } = recorder(2);
    const reporter = new Reporter(publish, silentLogger, { reporterId: "t", maxCount: 50 });
    let id = 0;
    // Batches keep arriving while publishes are in flight.
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 30; i++) {
        id++;
        reporter.reportRunning({ id });
        reporter.reportResult({ done: { id, exit_code: 0 } });
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await reporter.flush();
    const running = new Set<number>();
    for (const s of sent) {
      for (const i of ids(s)) {
        if (s.subject === "ti.running") running.add(i);
        else assert.ok(running.has(i), `${i} reported on ${s.subject} before ti.running`);
      }
    }
    assert.equal(running.size, id);
  });

  test("reports that arrive while results go out wait for their ti.running", async () => {
    const sent: { subject: string; ids: number[] }[] = [];
    let reporter: Reporter | undefined;
    let injected = false;
    const publish: PublishFn = async (contract, data, ..._key) => {
      const subject = contract.subject.replace("ti.*.", "ti.");
      const d = data as Sent["data"];
      sent.push({ subject, ids: (d.instances ?? d.results ?? []).map((e) => e.id) });
      if (subject === "ti.done" && !injected) {
        // A new batch is accepted while this publish is in flight.
        injected = true;
        reporter!.reportRunning({ id: 2 });
        reporter!.reportResult({ done: { id: 2, exit_code: 0 } });
      }
      await new Promise((r) => setTimeout(r, 5));
    };
    reporter = new Reporter(publish, silentLogger, { reporterId: "t" });
    reporter.reportRunning({ id: 1 });
    reporter.reportResult({ done: { id: 1, exit_code: 0 } });
    await reporter.flush();
    assert.deepEqual(sent, [
      { subject: "ti.running", ids: [1] },
      { subject: "ti.done", ids: [1] },
      { subject: "ti.running", ids: [2] },
      { subject: "ti.done", ids: [2] },
    ]);
  });

  test("a failed publish is retried until it succeeds", async () => {
    const { sent, publish } = recorder(0, 2);
    const reporter = new Reporter(publish, silentLogger, { reporterId: "t" });
    reporter.reportResult({ done: { id: 9, exit_code: 0 } });
    await reporter.flush();
    assert.equal(sent.length, 1);
    assert.deepEqual(ids(sent[0]!), [9]);
  });

  test("chunkBySize splits by count", () => {
    const chunks = chunkBySize([1, 2, 3, 4, 5], 2, 1000);
    assert.deepEqual(chunks, [[1, 2], [3, 4], [5]]);
  });
});
