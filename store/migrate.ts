// Forward-only schema migrations (model: graphile-worker's migrate.ts).
//
// sql/NNNNNN_<slug>.sql, numbered consecutively from 000001, each applied in its own
// transaction and recorded in drover_migrations with a checksum of its text. Concurrent
// runners (several processes starting at once) are serialised by a transaction-scoped
// advisory lock taken before anything else, including creating the migrations table; a
// session lock would be unsafe on a pool, where the unlock may run on another connection.
// Refused: a database ahead of the code (it was migrated by a newer version), and an
// applied file whose text changed since.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type postgres from "postgres";
import { packagePath } from "../core/package-root.ts";

export const MIGRATIONS_DIR = packagePath("sql/");

/** Advisory lock key (two-int form): namespace 'drov' (0x64726f76), 1 = migrations. */
const LOCK_NAMESPACE = 0x64726f76;
const LOCK_MIGRATE = 1;

/** Postgres's SQLSTATE for "permission denied". */
const INSUFFICIENT_PRIVILEGE = "42501";

const FILE_PATTERN = /^(\d{6})_([a-z0-9][a-z0-9_-]*)\.sql$/;

export interface Migration {
  id: number;
  /** The file name, e.g. "000001_schema.sql"; recorded as drover_migrations.name. */
  name: string;
  checksum: string;
  text: string;
}

export interface MigrateLogger {
  info(fields: object, message: string): void;
}

export interface MigrateOptions {
  log?: MigrateLogger;
  /** Where the .sql files are (tests); default MIGRATIONS_DIR. */
  dir?: string;
}

/** sha256 of the text, line endings normalised so a checkout with CRLF is not "changed". */
export function checksum(text: string): string {
  return createHash("sha256").update(text.replaceAll("\r\n", "\n")).digest("hex");
}

/** The migration files, ordered; throws on a gap, a duplicate or a misnamed .sql file. */
export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      throw new Error(
        `migration file ${file} in ${dir} is misnamed: expected NNNNNN_slug.sql (6 digits, ` +
          "lowercase slug of letters, digits, _ and -)",
      );
    }
    const id = Number(match[1]);
    const expected = migrations.length + 1;
    if (id !== expected) {
      const previous = migrations.at(-1);
      throw new Error(
        id === previous?.id
          ? `migration number ${match[1]} is used twice (${previous.name} and ${file})`
          : `migration ${file} should be numbered ${String(expected).padStart(6, "0")}: ` +
              "migrations are numbered consecutively from 000001",
      );
    }
    const text = await readFile(path.join(dir, file), "utf8");
    migrations.push({ id, name: file, checksum: checksum(text), text });
  }
  return migrations;
}

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
}

/** Throws if the applied rows do not match the files: database ahead, gap, changed file. */
function verifyApplied(applied: AppliedRow[], migrations: Migration[]): void {
  const last = applied.at(-1);
  if (last && last.id > migrations.length) {
    const latest = migrations.at(-1);
    throw new Error(
      `database schema version ${last.id} (${last.name}) is newer than this code's ` +
        `(${latest ? `${latest.id}, ${latest.name}` : "no migrations"}): it was migrated by a ` +
        "newer Drover; upgrade Drover or use another database",
    );
  }
  applied.forEach((row, i) => {
    const file = migrations[i];
    if (row.id !== i + 1 || !file) {
      throw new Error(
        `drover_migrations is inconsistent: expected migration ${i + 1}, found ${row.id} ` +
          `(${row.name}); migrations are applied in order and never removed`,
      );
    }
    if (row.checksum !== file.checksum) {
      throw new Error(
        `migration ${file.name} was changed after it was applied to this database ` +
          `(recorded checksum ${row.checksum.slice(0, 12)}, file ${file.checksum.slice(0, 12)}); ` +
          "migrations are forward-only: restore the file and add a new migration instead",
      );
    }
  });
}

const CREATE_MIGRATIONS_TABLE = `
  create table if not exists drover_migrations (
    id int primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`;

/**
 * Apply every pending migration, one transaction each. Each transaction first takes the
 * advisory lock, then re-reads what is applied, so runners that start together apply each
 * file once between them. Returns the names this call applied (empty when up to date).
 */
export async function migrate(
  sql: postgres.Sql,
  options: MigrateOptions = {},
): Promise<{ applied: string[] }> {
  const migrations = await readMigrations(options.dir);
  // Up to date: nothing to lock or create. The functions' own role, which may not
  // create tables, starts here on a database its owner migrated.
  if ((await pendingMigrations(sql, migrations)).length === 0) return { applied: [] };
  const [{ role } = { role: "?" }] = await sql<{ role: string }[]>`select current_user as role`;
  const applied: string[] = [];
  for (;;) {
    const done = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, ${LOCK_MIGRATE}::int)`;
      await tx.unsafe(CREATE_MIGRATIONS_TABLE).catch((err) => {
        throw migrationRefused(role, err) ?? err;
      });
      const rows = await tx<AppliedRow[]>`
        select id, name, checksum from drover_migrations order by id`;
      verifyApplied(rows, migrations);
      const next = migrations[rows.length];
      if (!next) return null;
      const started = performance.now();
      try {
        // No parameters: sent as a simple query, so a file may hold many statements.
        await tx.unsafe(next.text);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw (
          migrationRefused(role, err, next.name) ??
          new Error(`migration ${next.name} failed: ${reason}`, { cause: err })
        );
      }
      await tx`
        insert into drover_migrations (id, name, checksum)
        values (${next.id}, ${next.name}, ${next.checksum})`;
      options.log?.info(
        { migration: next.name, ms: Math.round(performance.now() - started) },
        "migration applied",
      );
      return next.name;
    });
    if (done === null) return { applied };
    applied.push(done);
  }
}

/** The migrations not yet applied (all of them on a database never migrated). */
async function pendingMigrations(sql: postgres.Sql, migrations: Migration[]): Promise<Migration[]> {
  const [table] = await sql`select to_regclass('drover_migrations') is not null as exists`;
  if (!table?.exists) return migrations;
  const rows = await sql<
    AppliedRow[]
  >`select id, name, checksum from drover_migrations order by id`;
  verifyApplied(rows, migrations);
  return migrations.slice(rows.length);
}

/**
 * A role without the right to change the schema (the functions' own, on a site) met a
 * pending migration: the error says who may apply it, instead of Postgres's bare
 * refusal. Null for any other error.
 */
function migrationRefused(role: string, err: unknown, name?: string): Error | null {
  if ((err as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) return null;
  return new Error(
    `the database needs migration${name ? ` ${name}` : "s"} and role ${role} may not ` +
      `change its schema (${(err as Error).message}): run 'drover migrate' with the database ` +
      "owner's URL (DROVER_MIGRATE_DATABASE_URL), then start again",
    { cause: err },
  );
}

/** Highest applied migration number; 0 for a database never migrated. */
export async function schemaVersion(sql: postgres.Sql): Promise<number> {
  const [table] = await sql`select to_regclass('drover_migrations') is not null as exists`;
  if (!table?.exists) return 0;
  const [row] = await sql`select coalesce(max(id), 0) as version from drover_migrations`;
  return Number(row?.version ?? 0);
}
