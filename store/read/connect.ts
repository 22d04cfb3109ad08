// The GUI's own Postgres pool: read-only, whatever the deployment allows.
//
// What is used, in order:
// 1. The same server URL logged in as `drover_gui`, the role sql/000005_gui_role.sql
//    creates with SELECT only. That works where the server lets that role in without a
//    password (trust/peer on loopback, as on a local stack and in CI here). The role is
//    then read-only by its privileges: an UPDATE fails with "permission denied".
// 2. Otherwise (the role is missing, or the server wants a password we do not have) the
//    main URL. Its role may write, so the only guard is `default_transaction_read_only`,
//    set at connection start: it refuses writes in every transaction the GUI opens, but
//    it is a session setting the GUI chose itself, not a privilege; it guards against
//    our own mistakes, not against whoever controls the GUI process.
// Both pools set the read-only default. `mode` says which one is in force; the server
// logs it at start and /api/health reports it.
import postgres from "postgres";
import type { Logger } from "../../core/log.ts";

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

/** Like store/connect.ts's createSql (bigint and numeric as numbers), plus the read-only default. */
function readOnlyPool(url: string, max: number): postgres.Sql {
  const sql = postgres(url, {
    max,
    prepare: true,
    onnotice: () => {},
    connection: {
      application_name: "drover-gui",
      // A startup parameter: in force before the first statement of every connection.
      default_transaction_read_only: "on",
    } as Record<string, string>,
    types: {
      int8: {
        to: 20,
        from: [20, 1700],
        serialize: (x: number | bigint | string) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  });
  return sql as unknown as postgres.Sql;
}

export async function connectGuiDatabase(
  url: string,
  log: Logger,
  options: { max?: number } = {},
): Promise<GuiDatabase> {
  const max = options.max ?? 8;
  const asRole = readOnlyPool(withUser(url, GUI_ROLE), max);
  try {
    // Proves both the login and the grants.
    await asRole`select 1 from workflow limit 1`;
    return { sql: asRole, mode: "role drover_gui" };
  } catch (err) {
    await asRole.end({ timeout: 1 }).catch(() => {});
    log.info(
      { reason: (err as Error).message },
      "gui database: role drover_gui unavailable, using a read-only session",
    );
  }
  const sql = readOnlyPool(url, max);
  await sql`select 1`;
  return { sql, mode: "read-only session" };
}
