import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ensurePersonStreams, personStreams } from "../../bus/person-streams.ts";
import type { RunningFunction } from "../../bus/runtime.ts";
import { ensureStream } from "../../bus/streams.ts";
import { submitWorkflow } from "../../client/submit.ts";
import { localUserToken } from "../../core/identity.ts";
import { CAPS } from "../../core/limits.ts";
import { silentLogger } from "../../core/log.ts";
import { parseSpec } from "../../submission/load.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { startNats, type TestNats } from "../../test/helpers/nats.ts";
import { dagBody, echoDag, submitRaw } from "../../test/helpers/raw-submit.ts";
import { startFunction } from "../context.ts";
import { createBindDag } from "./handler.ts";

let nats: TestNats;
let db: FreshDatabase;
let nc: NatsConnection;
let fn: RunningFunction;

const MiB = 1024 * 1024;

before(async () => {
  [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  nc = await connect({ servers: nats.url });
  const bindDag = createBindDag({ maxTasks: 5, dagMaxBytes: 8 * MiB, maxActiveWorkflows: 3 });
  fn = await startFunction(bindDag, { nc, sql: db.sql, log: silentLogger });
});
after(async () => {
  await fn.stop();
  await nc.drain();
  await Promise.all([nats.stop(), db.drop()]);
});

async function workflowCount(): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from workflow`;
  return row!.n;
}

describe("size caps in bind-dag", () => {
  test("a gzip bomb stops at the decompressed cap, naming it; nothing is written", async () => {
    const before = await workflowCount();
    // 64 MiB of empty lines compress to ~64 KiB.
    const bomb = gzipSync(Buffer.alloc(64 * MiB, 0x0a));
    const answer = await submitRaw(nc, bomb, {});
    assert.equal(answer?.ok, false);
    assert.match(answer!.error!, /larger than 8 MiB once decompressed/);
    assert.equal(await workflowCount(), before);
  });

  test("a line past the line cap is refused, naming the line and the cap", async () => {
    const line = JSON.stringify({ kind: "template", name: "t", command: "x".repeat(5 * MiB) });
    const answer = await submitRaw(nc, gzipSync(`${line}\n`), {});
    assert.equal(answer?.ok, false);
    assert.match(answer!.error!, /DAG line 1 is longer than 4 MiB/);
  });

  test("counts.tasks over the cap is refused before anything is read or allocated", async () => {
    const answer = await submitRaw(nc, dagBody(echoDag(1)), {
      counts: { templates: 1, tasks: 2_000_000_000, edges: 0 },
    });
    assert.equal(answer?.ok, false);
    assert.match(answer!.error!, /counts\.tasks: .*2000000000 tasks, more than the 5/);
  });

  test("a DAG with more tasks than announced is refused (the cap cannot be passed by lying)", async () => {
    const answer = await submitRaw(nc, dagBody(echoDag(6)), {
      counts: { templates: 1, tasks: 2, edges: 0 },
    });
    assert.equal(answer?.ok, false);
    assert.match(answer!.error!, /more tasks than the 2 the submission announced/);
  });

  test("commands and arg values past their caps are refused naming the task and the arg", async () => {
    const bigValue = await submitRaw(
      nc,
      dagBody(echoDag(1, () => "v".repeat(CAPS.argValueBytes + 1))),
      {},
    );
    assert.equal(bigValue?.ok, false);
    assert.match(bigValue!.error!, /task "t_0": arg "x" is 65537 bytes, more than 64 KiB/);

    const lines = echoDag(1, () => "v".repeat(40_000));
    (lines[0] as { command: string }).command = "echo {x} {x:q} {x} {x}";
    const rendered = await submitRaw(nc, dagBody(lines), {});
    assert.equal(rendered?.ok, false);
    assert.match(
      rendered!.error!,
      /task "t_0": command is 160\d+ bytes with its args inserted, more than 131071/,
    );

    const longTemplate = echoDag(1);
    (longTemplate[0] as { command: string }).command = `echo {x} ${"y".repeat(CAPS.commandBytes)}`;
    const template = await submitRaw(nc, dagBody(longTemplate), {});
    assert.equal(template?.ok, false);
    assert.match(template!.error!, /template "t": command is \d+ bytes, more than 131071/);
  });

  test("a person's active workflows are capped; a workflow that ended frees a place", async () => {
    const ids: number[] = [];
    const active = await db.sql<{ n: number }[]>`
      select count(*)::int as n from workflow where status in ('REGISTERING', 'QUEUED', 'RUNNING')`;
    for (let i = active[0]!.n; i < 3; i++) {
      const answer = await submitRaw(nc, dagBody(echoDag(1)), {});
      assert.equal(answer?.ok, true, answer?.error);
      ids.push(answer!.workflow_id!);
    }
    const refused = await submitRaw(nc, dagBody(echoDag(1)), {});
    assert.equal(refused?.ok, false);
    assert.match(
      refused!.error!,
      /has 3 workflows not yet ended, the most one person may have \(3\)/,
    );
    await db.sql`update workflow set status = 'DONE' where id = ${ids[0]!}`;
    const again = await submitRaw(nc, dagBody(echoDag(1)), {});
    assert.equal(again?.ok, true, again?.error);
  });
});

describe("size caps on the bus", () => {
  test("shared and personal streams and the DAG bucket have max_bytes; a stream made before the caps gets one", async () => {
    const jsm = await jetstreamManager(nc);
    const token = localUserToken();
    await ensurePersonStreams(nc, jsm, token, { maxBytes: 64 * MiB });
    const names = personStreams(token);
    for (const name of [names.launch, names.ctl, `OBJ_${names.bucket}`]) {
      assert.equal((await jsm.streams.info(name)).config.max_bytes, 64 * MiB, name);
    }
    const fnStream = (await jsm.streams.info("DROVER_FN_BIND_DAG")).config;
    assert.equal(fnStream.max_bytes, CAPS.streamBytes);
    assert.equal(fnStream.discard, "new", "a full work queue refuses, never drops work");

    await jsm.streams.add({
      name: "OLD_UNCAPPED",
      subjects: ["old.uncapped"],
      retention: RetentionPolicy.Workqueue,
    });
    await ensureStream(jsm, "OLD_UNCAPPED", ["old.uncapped"]);
    assert.equal((await jsm.streams.info("OLD_UNCAPPED")).config.max_bytes, CAPS.streamBytes);
  });

  test("a DAG larger than the person's bucket is refused by the client with the cap, not a bare NATS error", async () => {
    const jsm = await jetstreamManager(nc);
    await ensurePersonStreams(nc, jsm, localUserToken(), { maxBytes: MiB });
    const spec = {
      tool: { name: "big" },
      workflow: { name: "too big for the bucket", default_cluster: "dummy" },
      templates: [{ name: "t", command: "echo {x}", node_args: ["x"] }],
      tasks: [
        {
          template: "t",
          foreach: { x: Array.from({ length: 3000 }, () => randomBytes(600).toString("base64")) },
          args: {},
        },
      ],
    };
    await assert.rejects(
      submitWorkflow(nc, parseSpec(JSON.stringify(spec), "json")),
      (err: Error) => {
        assert.equal(err.name, "SubmitRejected");
        assert.match(
          err.message,
          /does not fit in your DAG bucket drover-dags-.*holds at most 1048576 bytes/,
        );
        return true;
      },
    );
  });
});
