// Several people on one authenticated Drover: real Unix users, credentials made by
// `drover admin`, a NATS that enforces the permissions it writes. Each person acts only
// as themselves; an admin may act on anyone's workflow.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import { Streams } from "../bus/contracts.ts";
import { newCredentials, writeCredentials } from "../bus/credentials.ts";
import { personStreams } from "../bus/person-streams.ts";
import type { RunningFunction } from "../bus/runtime.ts";
import { submitWorkflow } from "../client/submit.ts";
import { userToken } from "../core/identity.ts";
import { silentLogger } from "../core/log.ts";
import { startFunction } from "../functions/context.ts";
import { createFunctions, DEFAULT_TIMING, services } from "../functions/registry.ts";
import { type LocalBridge, startLocalBridge } from "../local-bridge/bridge.ts";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { startNats, type TestNats } from "./helpers/nats.ts";
import { collectOutput, type Output } from "./helpers/output.ts";
import { fanIn } from "./helpers/submissions.ts";
import { addTestUsers, type TestUser } from "./helpers/users.ts";

const ROOT = join(import.meta.dirname, "..");
const isRoot = process.getuid?.() === 0;

describe("several people on one authenticated stack", {
  skip: !isRoot && "needs root (useradd)",
}, () => {
  let db: FreshDatabase;
  let sql: Sql;
  let nats: TestNats;
  let site: string;
  let people: { remove(): void };
  let alice: TestUser;
  let bob: TestUser;
  let boss: TestUser;
  let service: NatsConnection;
  const conns: NatsConnection[] = [];
  const running: RunningFunction[] = [];
  let bridge: LocalBridge;
  let workflowId: number;

  const credsOf = (u: TestUser) => join(u.home, ".drover", "credentials.json");
  /**
   * `drover ARGS` as a subprocess. Asynchronously: the functions answering its commands
   * run in this process, which a synchronous spawn would hold still.
   */
  const drover = (args: string[], env: Record<string, string> = {}): Promise<Output> =>
    collectOutput(
      spawn(process.execPath, [join(ROOT, "bin/drover.mjs"), ...args], {
        cwd: ROOT,
        env: {
          ...process.env,
          DROVER_SITE_DIR: site,
          DROVER_DATABASE_URL: db.url,
          DROVER_NATS_URL: nats?.url ?? "nats://127.0.0.1:1",
          DROVER_HOME: join(site, "cli-home"),
          DROVER_LOG_LEVEL: "warn",
          ...env,
        },
      }),
    );
  const as = async (u: TestUser) => {
    const nc = await connectBus(nats.url, u.name, { credentials: credsOf(u) });
    conns.push(nc);
    return nc;
  };

  before(async () => {
    db = await freshDatabase();
    sql = db.sql;
    site = mkdtempSync(join(tmpdir(), "drover-site-"));
    const made = addTestUsers(["alice", "bob", "boss"]);
    people = made;
    [alice, bob, boss] = made.users as [TestUser, TestUser, TestUser];
    for (const args of [
      ["init"],
      ["add", alice.name],
      ["add", bob.name],
      ["add", boss.name, "--admin"],
    ]) {
      const r = await drover(["admin", ...args]);
      assert.equal(r.status, 0, `admin ${args.join(" ")}: ${r.stderr}`);
    }
    nats = await startNats({ config: readFileSync(join(site, "nats-auth.conf"), "utf8") });
    service = await connectBus(nats.url, "functions", {
      credentials: join(site, "functions.credentials.json"),
    });
    const functions = createFunctions(DEFAULT_TIMING);
    for (const fn of Object.values(functions)) {
      running.push(await startFunction(fn, { nc: service, sql, log: silentLogger }));
    }
    for (const s of Object.values(services)) {
      running.push(await s.start({ nc: service, sql, log: silentLogger }));
    }
    bridge = await startLocalBridge({
      nc: await as(alice),
      log: silentLogger,
      slots: 2,
      logDir: join(site, "logs"),
      clusters: ["local"],
    });
    // One long nap on local, then a report: alice's, running while bob tries things.
    const sub = fanIn(1, { command: "sleep 60 # {i}", args: { owner: "alice" } });
    sub.workflow.default_cluster = "local";
    workflowId = (await submitWorkflow(await as(alice), sub)).workflow_id;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [row] = await sql<{ status: string }[]>`
        select status from task where workflow_id = ${workflowId} order by id limit 1`;
      if (row?.status === "RUNNING") break;
      assert.ok(Date.now() < deadline, `alice's task did not start (${row?.status})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    await bridge?.stop();
    await Promise.allSettled(running.map((r) => r.stop()));
    await Promise.allSettled([...conns, service].filter(Boolean).map((c) => c.close()));
    await Promise.allSettled([nats?.stop(), db?.drop()]);
    people?.remove();
    rmSync(site, { recursive: true, force: true });
  });

  test("drover admin gives each person credentials that only they can read", async () => {
    const st = statSync(credsOf(alice));
    assert.equal(st.mode & 0o777, 0o600);
    const r = spawnSync("runuser", ["-u", bob.name, "--", "cat", credsOf(alice)], {
      encoding: "utf8",
    });
    assert.notEqual(r.status, 0, "bob read alice's credentials");
    const own = spawnSync("runuser", ["-u", alice.name, "--", "cat", credsOf(alice)], {
      encoding: "utf8",
    });
    assert.equal(own.status, 0, own.stderr);
    const auth = readFileSync(join(site, "nats-auth.conf"), "utf8");
    assert.doesNotMatch(auth, /"SU[A-Z2-7]+"/, "no secret in the server's configuration");
    const list = await drover(["admin", "list", "--json"]);
    const listed = JSON.parse(list.stdout).people as { user: string; admin: boolean }[];
    assert.deepEqual(
      listed.map((p) => [p.user, p.admin]).sort(),
      [
        [alice.name, false],
        [bob.name, false],
        [boss.name, true],
      ].sort(),
    );
  });

  test("an anonymous connection is refused; unknown credentials are named as such", async () => {
    await assert.rejects(
      connectBus(nats.url, "anonymous", { reconnect: false }),
      /requires credentials/,
    );
    const stranger = join(site, "stranger.json");
    writeCredentials(stranger, newCredentials("stranger", "stranger", "person"));
    await assert.rejects(
      connectBus(nats.url, "stranger", { reconnect: false, credentials: stranger }),
      /refused the credentials of stranger/,
    );
  });

  test("bob cannot pull alice's launch batches, read her replies, or touch streams", async () => {
    const nc = await as(bob);
    const streams = personStreams(userToken(alice.name));
    const js = jetstream(nc);
    await assert.rejects(
      (async () => {
        const c = await js.consumers.get(streams.launch, "bridge-local");
        await c.next({ expires: 2000 });
      })(),
      /permission|timeout|not found/i,
    );
    const denied = new Promise<Error | null>((resolve) => {
      nc.subscribe(`wf.reply.${userToken(alice.name)}.>`, {
        callback: (err) => resolve(err),
      });
      setTimeout(() => resolve(null), 3000);
    });
    assert.match(String(await denied), /permission/i, "bob subscribed to alice's replies");
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    await assert.rejects(jsm.streams.delete(streams.ctl), /permission|timeout/i);
    await assert.rejects(
      jsm.consumers.delete(streams.launch, "bridge-local"),
      /permission|timeout/i,
    );
    await assert.rejects(jsm.streams.delete(Streams.dlq.name), /permission|timeout/i);
  });

  test("a result from bob for alice's instance is dead-lettered with the reason and changes nothing", async () => {
    const [inst] = await sql<{ id: number }[]>`
      select id from task_instance where workflow_id = ${workflowId} order by id limit 1`;
    const nc = await as(bob);
    await jetstream(nc).publish(
      `ti.${userToken(bob.name)}.done`,
      JSON.stringify({ v: 1, results: [{ id: Number(inst!.id), exit_code: 0 }] }),
    );
    const jsm = await jetstreamManager(service);
    const deadline = Date.now() + 15_000;
    let reason = "";
    while (!reason && Date.now() < deadline) {
      const info = await jsm.streams.info(Streams.dlq.name);
      for (
        let seq = info.state.first_seq;
        seq <= info.state.last_seq && info.state.messages;
        seq++
      ) {
        const m = await jsm.streams.getMessage(Streams.dlq.name, { seq }).catch(() => null);
        const letter = m?.json<{ subject: string; reason: string }>();
        if (letter?.subject === `ti.${userToken(bob.name)}.done`) reason = letter.reason;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(reason, new RegExp(`${bob.name} does not own.*belong to ${alice.name}`));
    const [task] = await sql<
      { status: string }[]
    >`select status from task where workflow_id = ${workflowId} order by id limit 1`;
    assert.equal(task!.status, "RUNNING");
  });

  test("alice's task logs: bob is refused naming her; she and the admin may read them", async () => {
    const [task] = await sql<{ id: number }[]>`
      select id from task where workflow_id = ${workflowId} order by id limit 1`;
    const id = String(task!.id);
    const refused = await drover(["logs", id], { DROVER_CREDENTIALS: credsOf(bob) });
    assert.equal(refused.status, 2, refused.stdout);
    assert.match(refused.stderr, new RegExp(`private to its owner, ${alice.name}, and admins`));
    for (const who of [alice, boss]) {
      const r = await drover(["logs", id, "--json"], { DROVER_CREDENTIALS: credsOf(who) });
      assert.equal(r.status, 0, `${who.name}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).task, task!.id);
    }
  });

  test("bob's commands on alice's workflow are refused naming her; the admin's work", async () => {
    const bobEnv = { DROVER_CREDENTIALS: credsOf(bob) };
    const [task] = await sql<{ id: number }[]>`
      select id from task where workflow_id = ${workflowId} order by id desc limit 1`;
    for (const args of [
      ["stop", String(workflowId)],
      ["concurrency", String(workflowId), "1"],
      ["resume", String(workflowId)],
      ["set-status", String(task!.id), "done"],
    ]) {
      const r = await drover(args, bobEnv);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`belongs to ${alice.name}`), args.join(" "));
    }
    const stop = await drover(["stop", String(workflowId), "--json"], {
      DROVER_CREDENTIALS: credsOf(boss),
    });
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(JSON.parse(stop.stdout).status, "HALTED");
    const wf = JSON.parse((await drover(["status", String(workflowId), "--json"], bobEnv)).stdout);
    assert.equal(wf.status, "HALTED", "anyone may read");
  });
});
