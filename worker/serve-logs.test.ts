// A bridge's task logs over NATS (bus/bridge-logs.ts): what its person's GUI or CLI gets
// when it cannot read the file itself, and what the bridge refuses to read.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import type { RunningService } from "../bus/serve.ts";
import { readLogViaBridge } from "../client/bridge-logs.ts";
import { silentLogger } from "../core/log.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { serveLogs } from "./serve-logs.ts";

describe("task logs served by the owner's bridge", () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let service: RunningService;
  let dir: string;
  let logs: string;
  let accents: string;
  const alice = { owner: "alice", cluster: "local" };

  before(async () => {
    nats = await startNats();
    nc = await connectBus(nats.url, "serve-logs-test");
    dir = mkdtempSync(join(tmpdir(), "drover-serve-logs-"));
    logs = join(dir, "logs");
    mkdirSync(join(logs, "7"), { recursive: true });
    writeFileSync(join(logs, "7", "t.1.out"), "first line\nsecond line\nlast line\n");
    accents = join(logs, "7", "t.2.out");
    writeFileSync(accents, "é\n");
    writeFileSync(join(dir, "secret"), "not a log\n");
    symlinkSync(join(dir, "secret"), join(logs, "7", "link.out"));
    service = serveLogs(nc, "alice", "local", [logs], silentLogger);
  });
  after(async () => {
    await service?.stop();
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("its tail, then any slice, with the file's size", async () => {
    const path = join(logs, "7", "t.1.out");
    const { bytes, ...tail } = await readLogViaBridge(nc, alice, { path, max_bytes: 10 });
    assert.deepEqual(
      { ...tail, content: bytes.toString("utf8") },
      { content: "last line\n", start: 23, end: 33, size: 33 },
    );
    const head = await readLogViaBridge(nc, alice, { path, start: 0, max_bytes: 11 });
    assert.equal(head.bytes.toString("utf8"), "first line\n");
    // Bytes, not text: a slice that cuts a character keeps its bytes for the asker.
    const cut = await readLogViaBridge(nc, alice, { path: accents, start: 0, max_bytes: 1 });
    assert.deepEqual([...cut.bytes], [0xc3]);
  });

  test("nothing outside its log folders: other files, links out, relative paths", async () => {
    for (const path of [join(dir, "secret"), join(logs, "7", "link.out"), "/etc/passwd"]) {
      await assert.rejects(readLogViaBridge(nc, alice, { path, max_bytes: 100 }), (err: Error) =>
        /not a task log of this bridge/.test(err.message),
      );
    }
    await assert.rejects(
      readLogViaBridge(nc, alice, { path: "7/t.1.out", max_bytes: 100 }),
      /is not an absolute path/,
    );
    await assert.rejects(
      readLogViaBridge(nc, alice, { path: join(logs, "7", "gone.out"), max_bytes: 100 }),
      /does not exist on this bridge's host/,
    );
  });

  test("only the owner's bridge of that cluster answers", async () => {
    const path = join(logs, "7", "t.1.out");
    await assert.rejects(
      readLogViaBridge(nc, { owner: "bob", cluster: "local" }, { path, max_bytes: 10 }),
      /no bridge of its owner for cluster local is running/,
    );
    await assert.rejects(
      readLogViaBridge(nc, { owner: "alice", cluster: "slurm" }, { path, max_bytes: 10 }),
      /no bridge of its owner for cluster slurm/,
    );
  });
});
