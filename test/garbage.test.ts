// Bad input never crashes a handler: garbage and schema-invalid messages on every
// subject end in the dead-letter stream with the reason, and a workflow running at the
// same time is unaffected.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { fillToken } from "../bus/contract.ts";
import { Streams } from "../bus/contracts.ts";
import { localUserToken } from "../core/identity.ts";
import { asMine } from "./helpers/bus.ts";
import { startTestStack, type TestStack } from "./helpers/stack.ts";
import { fanIn } from "./helpers/submissions.ts";

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack.stop();
});

/** Every JetStream subject a Drover process consumes, with the consumer that reads it. */
const SUBJECTS: [subject: string, consumer: string][] = [
  ["wf.submit", "bind-dag"],
  ["wf.bound", "schedule"],
  ["sched.wake", "schedule"],
  ["task.queued", "launch"],
  ["ti.launched", "heartbeat"],
  ["ti.running", "heartbeat"],
  ["ti.heartbeat", "heartbeat"],
  ["ti.done", "complete"],
  ["ti.error", "retry"],
  ["bridge.heartbeat.dummy", "reap"],
  ["launch.dummy", "bridge-dummy"],
  ["launch.local", "bridge-local"],
  ["ctl.dummy.kill", "bridge-dummy-ctl"],
];

test("garbage and invalid messages on every subject are dead-lettered with a reason; work goes on", {
  timeout: 120_000,
}, async () => {
  const running = stack.run(fanIn(200, { command: "@dummy:sleep=0.01 {i}" }), {
    timeoutMs: 90_000,
  });
  const js = jetstream(stack.nc);
  const payloads = [
    "{not json",
    JSON.stringify({ v: 1, nonsense: true }),
    JSON.stringify({ v: 99 }),
    "",
    "[]",
  ];
  for (const [subject] of SUBJECTS) {
    for (const p of payloads) await js.publish(asMine(subject), p);
  }
  // Requests with garbage are answered with an error, never crash the services.
  for (const subject of ["query.*.workflow", "query.*.task", "cmd.*.stop", "cmd.*.set-status"]) {
    const reply = await stack.nc.request(fillToken(subject, localUserToken()), "{garbage", {
      timeout: 5000,
    });
    assert.match(reply.json<{ error: string }>().error, /JSON|invalid|expected/i, subject);
  }

  const end = await running;
  assert.equal(end.status, "DONE", "the workflow is unaffected");

  const jsm = await jetstreamManager(stack.nc);
  const expected = SUBJECTS.length * payloads.length;
  const deadline = Date.now() + 30_000;
  let letters: { function: string; subject: string; reason: string }[] = [];
  while (Date.now() < deadline) {
    const info = await jsm.streams.info(Streams.dlq.name);
    if (info.state.messages >= expected) {
      letters = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(Streams.dlq.name, { seq });
        if (m) letters.push(m.json());
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(letters.length, expected, "one dead letter per bad message");
  for (const [subject, consumer] of SUBJECTS) {
    const mine = letters.filter((l) => l.subject === asMine(subject));
    assert.equal(mine.length, payloads.length, subject);
    assert.ok(
      mine.every((l) => l.function === consumer && l.reason.length > 0),
      subject,
    );
    assert.ok(
      mine.some((l) => /not JSON/.test(l.reason)),
      `${subject}: names the JSON problem`,
    );
    assert.ok(
      mine.some((l) => /invalid/.test(l.reason)),
      `${subject}: names the schema problem`,
    );
  }
});
