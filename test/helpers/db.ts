// A fresh database per test file, cloned from a migrated template (model: graphile-worker).
//
// The template is named after a checksum of every migration file, so changing the schema
// makes a new one; it is created and migrated once per server and then only cloned
// (CREATE DATABASE … TEMPLATE copies files: much faster than migrating). Test processes
// run in parallel, so all template work happens under an advisory lock held on a reserved
// connection to the maintenance database: CREATE DATABASE cannot run inside a
// transaction, so the transaction-scoped lock is not an option here, and a reserved
// connection makes the session lock safe (it is unlocked on the connection that took it).
import { createHash, randomBytes } from "node:crypto";
import type postgres from "postgres";
import {
  connectMaintenance,
  createSql,
  DEFAULT_DATABASE_URL,
  quoteIdent,
  withDatabase,
} from "../../store/connect.ts";
import { migrate, readMigrations } from "../../store/migrate.ts";

/** Advisory lock key (two-int form): namespace 'drov' as in store/migrate.ts, 2 = templates. */
const LOCK_NAMESPACE = 0x64726f76;
const LOCK_TEMPLATE = 2;

const TEMPLATE_PREFIX = "drover_test_template_";
const CLONE_PREFIX = "drover_test_";
/** Templates of other schema versions are dropped once unused for this long. */
const STALE_TEMPLATE_MS = 60 * 60 * 1000;
/** Clones left behind by crashed test runs are dropped once this old. */
const STALE_CLONE_MS = 24 * 60 * 60 * 1000;

export interface FreshDatabase {
  url: string;
  sql: postgres.Sql;
  /** End the pool and drop the database. */
  drop(): Promise<void>;
}

export function baseUrl(): string {
  return process.env["DROVER_DATABASE_URL"] || DEFAULT_DATABASE_URL;
}

/** drover_test_template_<first 12 hex of a sha256 over every migration's name and text>. */
export async function templateName(): Promise<string> {
  const hash = createHash("sha256");
  for (const m of await readMigrations()) hash.update(`${m.name}\0${m.checksum}\n`);
  return TEMPLATE_PREFIX + hash.digest("hex").slice(0, 12);
}

/** A bare (unmigrated) database name unique to this process; nothing creates it. */
export function uniqueDatabaseName(label = ""): string {
  return `${CLONE_PREFIX}${label}${process.pid}_${randomBytes(4).toString("hex")}`;
}

/** Marks a database with its creation time, read back by the stale sweep. */
function createdComment(): string {
  return `'drover test database, created_ms=${Date.now()}'`;
}

export async function freshDatabase(): Promise<FreshDatabase> {
  const base = baseUrl();
  const template = await templateName();
  const name = uniqueDatabaseName();
  const admin = await connectMaintenance(base, "drover-test-admin");
  try {
    const conn = await admin.reserve();
    try {
      await conn`select pg_advisory_lock(${LOCK_NAMESPACE}::int, ${LOCK_TEMPLATE}::int)`;
      try {
        await ensureTemplate(conn, base, template);
        await dropStale(conn, template);
        await conn.unsafe(`create database ${quoteIdent(name)} template ${quoteIdent(template)}`);
        await conn.unsafe(`comment on database ${quoteIdent(name)} is ${createdComment()}`);
      } finally {
        await conn`select pg_advisory_unlock(${LOCK_NAMESPACE}::int, ${LOCK_TEMPLATE}::int)`;
      }
    } finally {
      conn.release();
    }
  } finally {
    await admin.end();
  }

  const url = withDatabase(base, name);
  const sql = createSql(url, { application: "drover-test" });
  let dropped = false;
  return {
    url,
    sql,
    async drop() {
      if (dropped) return;
      dropped = true;
      await sql.end({ timeout: 5 });
      await dropDatabase(base, name);
    },
  };
}

/** Drop a database (WITH FORCE: ends sessions still connected to it). */
export async function dropDatabase(base: string, name: string): Promise<void> {
  const admin = await connectMaintenance(base, "drover-test-admin");
  try {
    await admin.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
  } finally {
    await admin.end();
  }
}

/**
 * Create and migrate the template unless it exists complete. "Complete" is pg_database's
 * datistemplate flag, set only after the migrations committed: a template left half-made
 * by a crashed run is dropped and made again.
 */
async function ensureTemplate(
  conn: postgres.ReservedSql,
  base: string,
  template: string,
): Promise<void> {
  const [row] = await conn<{ datistemplate: boolean }[]>`
    select datistemplate from pg_database where datname = ${template}`;
  if (row?.datistemplate) return;
  const quoted = quoteIdent(template);
  if (row) await conn.unsafe(`drop database ${quoted} with (force)`);
  await conn.unsafe(`create database ${quoted}`);
  const sql = createSql(withDatabase(base, template), { max: 1, application: "drover-test" });
  try {
    await migrate(sql);
  } finally {
    // Cloning fails while anyone is connected to the template.
    await sql.end();
  }
  await conn.unsafe(`comment on database ${quoted} is ${createdComment()}`);
  await conn.unsafe(`alter database ${quoted} with is_template true`);
}

/**
 * Opportunistic cleanup: templates of other schema versions that are old enough not to
 * belong to a test run in progress (another checkout may be testing another schema), and
 * clones left behind by runs that crashed before drop().
 */
async function dropStale(conn: postgres.ReservedSql, keep: string): Promise<void> {
  const rows = await conn<{ datname: string; comment: string | null }[]>`
    select datname, shobj_description(oid, 'pg_database') as comment
    from pg_database
    where starts_with(datname, ${CLONE_PREFIX}) and datname <> ${keep}`;
  const now = Date.now();
  for (const { datname, comment } of rows) {
    const created = Number(/created_ms=(\d+)/.exec(comment ?? "")?.[1] ?? Number.NaN);
    const isTemplate = datname.startsWith(TEMPLATE_PREFIX);
    const maxAge = isTemplate ? STALE_TEMPLATE_MS : STALE_CLONE_MS;
    // No timestamp: not made by freshDatabase (or it crashed in between); leave it.
    if (!(now - created > maxAge)) continue;
    const quoted = quoteIdent(datname);
    if (isTemplate) await conn.unsafe(`alter database ${quoted} with is_template false`);
    await conn.unsafe(`drop database if exists ${quoted} with (force)`);
  }
}
