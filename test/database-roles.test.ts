// The functions run as a role that may read and write rows but not change the schema,
// run programs or make roles (sql/000013_function_role.sql); the owner migrates.
// A workflow runs to DONE through every function as separate processes on that role.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { type DroverProcesses, startDroverProcesses } from "./helpers/drover-processes.ts";
import { startNats, type TestNats, waitForFunctions } from "./helpers/nats.ts";
import { fanIn } from "./helpers/submissions.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** The same database, as another role. */
function asRole(url: string, role: string, password: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.href;
}

describe("the functions' own database role", { timeout: 300_000 }, () => {
  let db: FreshDatabase;
  let nats: TestNats;
  const role = `drover_fn_test_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  let functionUrl = "";

  before(async () => {
    [db, nats] = await Promise.all([freshDatabase(), startNats()]);
    await db.sql.unsafe(`create role ${role} login password '${password}' in role drover_function`);
    functionUrl = asRole(db.url, role, password);
  });

  after(async () => {
    // Roles are the server's, not the database's: removed before the database goes.
    await db?.sql.unsafe(`drop role if exists ${role}`);
    await Promise.all([db?.drop(), nats?.stop()]);
  });

  test("may not change the schema, make roles or run programs", async () => {
    const sql = postgres(functionUrl, { max: 1, onnotice: () => {} });
    try {
      const [me] = await sql`
        select rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = current_user`;
      assert.deepEqual({ ...me }, { rolsuper: false, rolcreaterole: false, rolcreatedb: false });
      await assert.rejects(sql`create table mine (x int)`, /permission denied/);
      await assert.rejects(
        sql.unsafe("copy (select 1) to program 'true'"),
        /permission denied|must be superuser/,
      );
      await assert.rejects(sql.unsafe("create role other"), /permission denied/);
      await assert.rejects(sql`alter table task add column x int`, /must be owner/);
      // Rows it may: every table of the schema.
      const [row] = await sql`select count(*)::int as n from workflow`;
      assert.equal(row?.n, 0);
    } finally {
      await sql.end();
    }
  });

  test("every function, as separate processes on that role, runs a workflow with retries to DONE", async () => {
    let procs: DroverProcesses | undefined;
    let nc: NatsConnection | undefined;
    try {
      procs = await startDroverProcesses({ natsUrl: nats.url, databaseUrl: functionUrl });
      await waitForFunctions(
        nats.url,
        ["bind-dag", "schedule", "launch", "heartbeat", "complete", "retry"],
        60_000,
      );
      nc = await connectBus(nats.url, "roles-test");
      // Four tasks then one after them all, the third failing its first attempt: bind,
      // schedule, launch, heartbeat, complete and retry each write as the role.
      const sub = fanIn(4);
      sub.tasks[2]!.args = { i: "2 @dummy:fail-first=1" };
      const bound = await submitWorkflow(nc, sub);
      const end = await followWorkflow(nc, bound.workflow_id, { timeoutMs: 120_000 });
      assert.equal(end.status, "DONE", JSON.stringify(end.counts));
      assert.equal(end.counts.DONE, 5);
      const [row] = await db.sql`
        select count(*)::int as attempts from task_instance where workflow_id = ${bound.workflow_id}`;
      assert.equal(row?.attempts, 6, "one retry");
      assert.deepEqual(procs.exited(), [], "no function process died");
    } finally {
      await nc?.drain();
      await procs?.stop();
    }
  });

  test("a pending migration stops it with who may apply it; `drover migrate` as the owner does", async () => {
    // One migration behind: as if Drover was upgraded and nobody migrated yet.
    const [last] = await db.sql<{ name: string }[]>`
      delete from drover_migrations where id = (select max(id) from drover_migrations)
      returning name`;
    const started = await run(
      process.execPath,
      ["--import", "tsx", "functions/main.ts", "schedule"],
      {
        cwd: ROOT,
        env: { ...process.env, DROVER_DATABASE_URL: functionUrl, DROVER_NATS_URL: nats.url },
        timeout: 60_000,
      },
    ).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    assert.ok(started, "the function refused to start");
    assert.equal(started.code, 2, started.stderr);
    assert.match(started.stderr, new RegExp(`role ${role} may not change its schema`));
    assert.match(started.stderr, /drover migrate/);

    const migrated = await run(process.execPath, ["bin/drover.mjs", "migrate", "--json"], {
      cwd: ROOT,
      env: {
        ...process.env,
        DROVER_DATABASE_URL: functionUrl,
        DROVER_MIGRATE_DATABASE_URL: db.url,
      },
    });
    assert.deepEqual(JSON.parse(migrated.stdout).applied, [last!.name]);
  });
});
