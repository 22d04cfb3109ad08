// The GUI's own Postgres pool: read-only, whatever the deployment allows.
//
// What is used, in order:
// 1. The same server URL logged in as `drover_gui`, the role sql/000005_gui_role.sql
//    creates with SELECT only. That works where the server lets that role in without a
//    password (trust/peer on loopback, as on a local stack and in CI here). The role is
//    then read-only by its privileges: an INSERT fails with "permission denied".
// 2. Otherwise (the role is missing, or the server wants a password we do not have) the
//    main URL, with `default_transaction_read_only = on` set at connection start. That
//    refuses writes in every transaction the GUI opens, but it is a session setting the
//    GUI itself chose, not a privilege: it guards against our own mistakes, not against
//    someone who controls the GUI process. `mode` says which one is in force; the
//    server logs it at start and /api/health reports it.
import postgres from "postgres";
import type { Logger } from "../core/log.ts";
import { createSql } from "../db/connect.ts";

export const GUI_ROLE = "drover_gui";

export type GuiDbMode = "role drover_gui" | "read-only session";

export interface GuiDatabase {
  sql: postgres.Sql;
  mode: GuiDbMode;
}

/** The URL with another user and no password. */
export function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = "";
  return u.toString();
}

const APPLICATION = "drover-gui";

export async function connectGuiDatabase(
  url: string,
  log: Logger,
  options: { max?: number } = {},
): Promise<GuiDatabase> {
  const max = options.max ?? 8;
  const asRole = createSql(withUser(url, GUI_ROLE), { max, application: APPLICATION });
  try {
    // Proves both the login and the grants (drover_migrations is created by the runner,
    // so a table of the schema is asked instead).
    await asRole`select 1 from workflow limit 1`;
    return { sql: asRole, mode: "role drover_gui" };
  } catch (err) {
    await asRole.end({ timeout: 1 }).catch(() => {});
    log.info(
      { reason: (err as Error).message },
      "gui database: role drover_gui unavailable, using a read-only session",
    );
  }
  const sql = postgres(url, {
    max,
    prepare: true,
    onnotice: () => {},
    connection: {
      application_name: APPLICATION,
      // A startup parameter: in force before the first statement of every connection.
      default_transaction_read_only: "on",
    } as Record<string, string>,
    types: createSqlTypes(),
  });
  await sql`select 1`;
  return { sql: sql as unknown as postgres.Sql, mode: "read-only session" };
}

/** The same int8/numeric parsing as db/connect.ts's createSql: numbers, not strings. */
function createSqlTypes() {
  return {
    int8: {
      to: 20,
      from: [20, 1700],
      serialize: (x: number | bigint | string) => String(x),
      parse: (x: string) => Number(x),
    },
  };
}
