// The migration runner and the schema's own guards, on the real Postgres.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";
import { main } from "../cli/main.ts";
import {
  baseUrl,
  dropDatabase,
  type FreshDatabase,
  freshDatabase,
  uniqueDatabaseName,
} from "../test/helpers/db.ts";
import { collectOutput } from "../test/helpers/output.ts";
import { createSql, ensureDatabase, withDatabase } from "./connect.ts";
import { migrate, readMigrations, schemaVersion } from "./migrate.ts";

const BIN = fileURLToPath(new URL("../bin/drover.mjs", import.meta.url));

const TABLES = [
  "cluster",
  "drover_migrations",
  "edge",
  "id_allocator",
  "launch_batch",
  "limit_change",
  "queue",
  "task",
  "task_array",
  "task_instance",
  "task_instance_status_audit",
  "task_status_audit",
  "task_template",
  "task_template_version",
  "tool",
  "tool_version",
  "workflow",
  "workflow_run",
  "workflow_run_status_audit",
  "workflow_status_audit",
];

/** A database that exists but was never migrated; dropped by the returned function. */
async function bareDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const url = withDatabase(baseUrl(), uniqueDatabaseName("bare_"));
  assert.equal(await ensureDatabase(url), true);
  return { url, drop: () => dropDatabase(baseUrl(), new URL(url).pathname.slice(1)) };
}

async function runCli(args: string[], env: Record<string, string>) {
  const { status, ...output } = await collectOutput(
    spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  return { code: status, ...output };
}

async function migrationRows(sql: postgres.Sql) {
  return sql<{ id: number; name: string }[]>`select id, name from drover_migrations order by id`;
}

describe("migrate on an empty database", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;
  before(async () => {
    db = await bareDatabase();
    sql = createSql(db.url, { max: 2 });
  });
  after(async () => {
    await sql.end();
    await db.drop();
  });

  test("creates the schema and records every file", async () => {
    const files = await readMigrations();
    assert.equal(await schemaVersion(sql), 0);
    const { applied } = await migrate(sql);
    assert.deepEqual(
      applied,
      files.map((f) => f.name),
    );
    const rows = await migrationRows(sql);
    assert.deepEqual(
      rows.map((r) => [r.id, r.name]),
      files.map((f) => [f.id, f.name]),
    );
    assert.equal(await schemaVersion(sql), files.length);

    // At least these (later migrations may add more).
    const tables = await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public'`;
    const present = new Set(tables.map((t) => t.table_name));
    assert.deepEqual(
      TABLES.filter((t) => !present.has(t)),
      [],
    );
    // Seed rows; ids and counts come back as numbers.
    const queues = await sql`
      select c.name as cluster, q.name, q.max_runtime_seconds, q.max_memory_bytes
      from queue q join cluster c on c.id = q.cluster_id order by c.id, q.name`;
    assert.equal(queues.length, 6);
    assert.deepEqual(queues[0], {
      cluster: "local",
      name: "all.q",
      max_runtime_seconds: 86400,
      max_memory_bytes: 1024 ** 4,
    });
    // long.q allows a month on every built-in cluster (000007).
    assert.deepEqual(
      queues.filter((q) => q.name === "long.q").map((q) => [q.cluster, q.max_runtime_seconds]),
      [
        ["local", 30 * 86400],
        ["sequential", 30 * 86400],
        ["dummy", 30 * 86400],
      ],
    );
    const [slurm] = await sql`
      select count(q.id) as queues from cluster c left join queue q on q.cluster_id = c.id
      where c.name = 'slurm'`;
    assert.equal(slurm?.["queues"], 0);
    const [alloc] = await sql`select next_id from id_allocator where name = 'task'`;
    assert.equal(alloc?.["next_id"], 1);
  });

  test("a second run is a no-op", async () => {
    const before = await migrationRows(sql);
    assert.deepEqual(await migrate(sql), { applied: [] });
    assert.deepEqual(await migrationRows(sql), before);
  });
});

test("two `drover migrate` processes at once on a new database both succeed", async () => {
  const files = (await readMigrations()).map((f) => f.name);
  const name = uniqueDatabaseName("race_");
  const url = withDatabase(baseUrl(), name);
  try {
    const env = { DROVER_DATABASE_URL: url };
    const runs = await Promise.all([
      runCli(["migrate", "--json"], env),
      runCli(["migrate", "--json"], env),
    ]);
    const applied: string[] = [];
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as { applied: string[]; version: number };
      assert.equal(out.version, files.length);
      applied.push(...out.applied);
    }
    // Between them, each file applied exactly once.
    assert.deepEqual(applied.sort(), files);
    const sql = createSql(url, { max: 1 });
    try {
      assert.deepEqual(
        (await migrationRows(sql)).map((r) => r.name),
        files,
      );
    } finally {
      await sql.end();
    }
  } finally {
    await dropDatabase(baseUrl(), name);
  }
});

describe("refusals", () => {
  let db: FreshDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db.drop();
  });

  test("a database ahead of the code", async () => {
    await db.sql`insert into drover_migrations (id, name, checksum)
                 values (999999, '999999_future.sql', 'x')`;
    try {
      await assert.rejects(
        migrate(db.sql),
        /schema version 999999 \(999999_future\.sql\) is newer than this code's/,
      );
    } finally {
      await db.sql`delete from drover_migrations where id = 999999`;
    }
  });

  test("an applied file whose text changed", async () => {
    const [row] = await db.sql`select checksum from drover_migrations where id = 1`;
    await db.sql`update drover_migrations set checksum = 'edited' where id = 1`;
    try {
      await assert.rejects(
        migrate(db.sql),
        /migration 000001_schema\.sql was changed after it was applied/,
      );
    } finally {
      await db.sql`update drover_migrations set checksum = ${row?.["checksum"]} where id = 1`;
    }
    assert.deepEqual(await migrate(db.sql), { applied: [] });
  });

  test("the CLI reports it: exit 2, message on stderr, JSON error on stdout", async () => {
    await db.sql`insert into drover_migrations (id, name, checksum)
                 values (999999, '999999_future.sql', 'x')`;
    try {
      const run = await runCli(["migrate", "--json"], { DROVER_DATABASE_URL: db.url });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^drover migrate: database schema version 999999/);
      assert.match(JSON.parse(run.stdout).error, /newer than this code's/);
    } finally {
      await db.sql`delete from drover_migrations where id = 999999`;
    }
  });
});

describe("migration files", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "drover-sql-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("a gap, a duplicate number or a misnamed file is an error", async () => {
    await writeFile(path.join(dir, "000001_a.sql"), "select 1;");
    await writeFile(path.join(dir, "000003_c.sql"), "select 1;");
    await assert.rejects(readMigrations(dir), /000003_c\.sql should be numbered 000002/);
    await writeFile(path.join(dir, "000001_b.sql"), "select 1;");
    await assert.rejects(readMigrations(dir), /number 000001 is used twice/);
    await rm(path.join(dir, "000001_b.sql"));
    await rm(path.join(dir, "000003_c.sql"));
    await writeFile(path.join(dir, "2_b.sql"), "select 1;");
    await assert.rejects(readMigrations(dir), /2_b\.sql .* is misnamed/);
  });
});

describe("schema guards", () => {
  let db: FreshDatabase;
  let sql: postgres.Sql;
  before(async () => {
    db = await freshDatabase();
    sql = db.sql;
    await sql`insert into tool (name) values ('burden')`;
  });
  after(async () => {
    await db.drop();
  });

  async function insertTask(id: number, fields: { name?: string; status?: string }) {
    await sql`
      insert into task (id, workflow_id, array_id, name, hash, command, args, status,
                        max_attempts, cluster_id, queue_id)
      values (${id}, 1, 1, ${fields.name ?? `task_${id}`}, ${`hash${id}`}, 'true', '{}',
              ${fields.status ?? "REGISTERING"}, 3, 1, 1)`;
  }

  test("task status must be one of the nine", async () => {
    await assert.rejects(insertTask(1, { status: "BOGUS" }), { code: "23514" });
    await insertTask(2, { status: "ADJUSTING_RESOURCES" });
    await assert.rejects(sql`update task set status = 'FAILED' where id = 2`, { code: "23514" });
  });

  test("workflow, run and instance statuses are checked too", async () => {
    await assert.rejects(
      sql`insert into task_instance (task_id, workflow_id, status) values (1, 1, 'FAILED')`,
      { code: "23514" },
    );
    await assert.rejects(
      sql`insert into workflow_status_audit (workflow_id, status) values (1, 'ERROR_FATAL')`,
      { code: "23514" },
    );
  });

  test("names: no digit first, no / \\ ' \" or whitespace, 1..255 characters", async () => {
    const bad = ["", "1abc", "a b", "a\tb", "a/b", "a\\b", "a'b", 'a"b', "x".repeat(256)];
    for (const name of bad) {
      await assert.rejects(
        sql`insert into tool (name) values (${name})`,
        (err: { code?: string; message?: string }) =>
          err.code === "23514" && /drover_name_check/.test(err.message ?? ""),
        `tool name ${JSON.stringify(name)} should be rejected`,
      );
      await assert.rejects(insertTask(100, { name }), { code: "23514" });
    }
    for (const name of ["prep_1", "agg_location-1_year-2020", "a.b:c", "x".repeat(255)]) {
      await sql`insert into task_template (tool_id, name)
                select id, ${name} from tool where name = 'burden'`;
    }
  });

  test("a task never has two live instances", async () => {
    await sql`insert into task_instance (task_id, workflow_id) values (7, 1)`;
    await assert.rejects(
      sql`insert into task_instance (task_id, workflow_id, status) values (7, 1, 'RUNNING')`,
      { code: "23505" },
    );
    await sql`update task_instance set status = 'ERROR' where task_id = 7`;
    await sql`insert into task_instance (task_id, workflow_id) values (7, 1)`;
  });

  test("bigint columns come back as numbers", async () => {
    const [row] =
      await sql`select count(*) as n, 9007199254740991::bigint as max, 1.5::numeric as x`;
    assert.deepEqual(row, { n: 1, max: Number.MAX_SAFE_INTEGER, x: 1.5 });
  });
});

describe("drover CLI usage", () => {
  function capture() {
    const out = { stdout: "", stderr: "" };
    const io = {
      stdout: (t: string) => {
        out.stdout += t;
      },
      stderr: (t: string) => {
        out.stderr += t;
      },
      env: {},
    };
    return { out, io };
  }

  test("unknown command: exit 2 naming it", async () => {
    const { out, io } = capture();
    assert.equal(await main(["frobnicate"], io), 2);
    assert.match(out.stderr, /unknown command 'frobnicate'/);
    assert.equal(out.stdout, "");
  });

  test("bad option: exit 2; with --json the error is on stdout too", async () => {
    const { out, io } = capture();
    assert.equal(await main(["migrate", "--json", "--nope"], io), 2);
    assert.match(out.stderr, /drover migrate: Unknown option '--nope'/);
    assert.match(JSON.parse(out.stdout).error, /--nope/);
  });

  test("--help prints usage with an example, exit 0", async () => {
    const { out, io } = capture();
    assert.equal(await main(["migrate", "--help"], io), 0);
    assert.match(out.stdout, /^Usage: drover migrate/);
    assert.match(out.stdout, /Example:\n {2}.*drover migrate/);
  });
});
