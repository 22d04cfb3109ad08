// Postgres connections: one place that configures postgres.js the way the rest of the code
// expects (DESIGN.md §7), plus helpers to name and create databases.
import postgres from "postgres";

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/drover";

export interface SqlOptions {
  /** Pool size (postgres.js default: 10). */
  max?: number;
  /** Shown in pg_stat_activity.application_name. */
  application?: string;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * A postgres.js pool. `bigint` (count(*), ids) and `numeric` come back as JS numbers, so
 * JSON shows numbers: ids stay far below 2^53, and numeric here holds sizes and
 * durations, not money.
 */
export function createSql(url: string, options: SqlOptions = {}): postgres.Sql {
  const sql = postgres(url, {
    max: options.max ?? 10,
    prepare: true,
    onnotice: () => {},
    connection: { application_name: options.application ?? "drover" },
    types: {
      // Parse only: serializing keeps postgres.js's default (strings and numbers both
      // work as parameters of any numeric type).
      int8: {
        to: INT8_OID,
        from: [INT8_OID, NUMERIC_OID],
        serialize: (x: number | bigint | string) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  });
  // The custom type only adds a `sql.typed.int8` helper; callers use the plain Sql type.
  return sql as unknown as postgres.Sql;
}

/** The same server URL with another database name. */
export function withDatabase(url: string, dbName: string): string {
  const u = new URL(url);
  u.pathname = "/" + encodeURIComponent(dbName);
  return u.toString();
}

/** The database a URL names (postgres defaults to the user's name when none is given). */
export function databaseName(url: string): string {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (name !== "") return name;
  return decodeURIComponent(u.username) || "postgres";
}

/** Double-quote an identifier for statements that cannot take parameters (CREATE DATABASE). */
export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"';
}

/** SQLSTATE of a postgres.js error, if any. */
export function pgCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/**
 * A pool on the server's maintenance database (`postgres`, or `template1` where that was
 * dropped), for CREATE/DROP DATABASE. The caller ends it.
 */
export async function connectMaintenance(url: string, application: string): Promise<postgres.Sql> {
  for (const db of ["postgres", "template1"]) {
    const sql = createSql(withDatabase(url, db), { max: 1, application });
    try {
      await sql`select 1`;
      return sql;
    } catch (err) {
      await sql.end({ timeout: 1 });
      if (pgCode(err) !== "3D000" || db === "template1") throw err; // 3D000: no such database
    }
  }
  throw new Error("unreachable");
}

/**
 * Create the database `url` names if it does not exist. Several processes may race to
 * create it: losing the race is fine. Returns whether this call created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const admin = await connectMaintenance(url, "drover-ensure-database");
  try {
    const found = await admin`select 1 from pg_database where datname = ${name}`;
    if (found.length > 0) return false;
    try {
      await admin.unsafe(`create database ${quoteIdent(name)}`);
      return true;
    } catch (err) {
      // 42P04 duplicate_database; 23505 when a concurrent creator commits between our
      // check and our insert into pg_database (unique index on datname).
      const code = pgCode(err);
      if (code === "42P04" || code === "23505") return false;
      throw err;
    }
  } finally {
    await admin.end();
  }
}
