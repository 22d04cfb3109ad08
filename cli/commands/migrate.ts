// drover migrate: create the database if missing and apply pending migrations.
import { createSql, DEFAULT_DATABASE_URL, ensureDatabase } from "../../store/connect.ts";
import { migrate, schemaVersion } from "../../store/migrate.ts";
import { defineCommand, writeJson } from "../args.ts";

export const command = defineCommand({
  name: "migrate",
  summary: "create the database if missing and apply migrations (idempotent)",
  usage: `Usage: drover migrate [--json]

Create the database if it does not exist, then apply the pending schema migrations.
Running it again is a no-op; several runs at once are safe.

Options:
  --json      print {"applied": [...], "version": N} (or {"error": "..."})
  -h, --help  show this help

Environment:
  DROVER_MIGRATE_DATABASE_URL  the database owner's URL, where the functions run as a
                               role that may not change the schema (used first)
  DROVER_DATABASE_URL          default ${DEFAULT_DATABASE_URL}

Example:
  DROVER_DATABASE_URL=postgres://postgres@127.0.0.1:5432/drover drover migrate --json
`,
  options: { json: { type: "boolean" } },
  async run({ json }, io) {
    // The owner's URL where the site has one: the functions' own role may not migrate.
    const url =
      io.env["DROVER_MIGRATE_DATABASE_URL"] ||
      io.env["DROVER_DATABASE_URL"] ||
      DEFAULT_DATABASE_URL;
    await ensureDatabase(url);
    const sql = createSql(url, { max: 1, application: "drover-migrate" });
    try {
      const { applied } = await migrate(sql);
      const version = await schemaVersion(sql);
      if (json) {
        writeJson(io, { applied, version });
      } else {
        for (const name of applied) io.stdout(`applied ${name}\n`);
        io.stdout(
          applied.length > 0
            ? `schema at version ${version}\n`
            : `schema up to date (version ${version})\n`,
        );
      }
      return 0;
    } finally {
      await sql.end();
    }
  },
});
