// drover admin: people, roles and the NATS configuration of a site.
import { rmSync } from "node:fs";
import {
  newCredentials,
  personCredentialsPath,
  publicKey,
  writeCredentials,
} from "../../bus/credentials.ts";
import { authorizationBlock } from "../../bus/nats-config.ts";
import { lookupAccount } from "../../core/account.ts";
import { userToken } from "../../core/identity.ts";
import { createSql, DEFAULT_DATABASE_URL, ensureDatabase } from "../../store/connect.ts";
import { migrate } from "../../store/migrate.ts";
import { findPerson, listPeople, removePerson, savePerson } from "../../store/people.ts";
import { ensureServiceCredentials, publishUsers, siteOf, siteUsers } from "../admin/site.ts";
import { CliError, defineCommand, UsageError, writeJson } from "../args.ts";

const ACTIONS = ["init", "add", "remove", "list", "grant", "revoke", "rotate", "nats-config"];

export const command = defineCommand({
  name: "admin",
  summary: "people, roles and the NATS configuration of a site (run as root)",
  usage: `Usage: drover admin ACTION [USER] [--admin] [--service-user NAME] [--json]

Manage who may use this Drover site. People are Unix users: each gets an nkey whose
secret is written into their home (~USER/.drover/credentials.json, 0600, theirs alone)
and whose public key goes into the NATS authorization file, with permissions that let
them act only as themselves. Every change rewrites that file and reloads NATS.

Actions:
  init                 make the services' credentials (functions, GUI) and the file
  add USER [--admin]   add a person (an admin may act on everyone's workflows)
  remove USER          remove a person (their credentials stop working)
  list                 list the people
  grant USER           make a person an admin
  revoke USER          make an admin a person again
  rotate USER          issue new credentials (the old ones stop working)
  nats-config          print the authorization block NATS includes

Options:
  --admin              with add: the person is an admin
  --service-user NAME  with init: the account the services run as owns their credentials
  --json               print the result as JSON
  -h, --help           show this help

Environment:
  DROVER_SITE_DIR        the site folder (default /etc/drover): services' credentials
  DROVER_NATS_AUTH_FILE  the authorization file (default $DROVER_SITE_DIR/nats-auth.conf),
                         included by the server's configuration
  DROVER_NATS_PID_FILE   the server's pid file: NATS reloads its configuration after a change
  DROVER_DATABASE_URL    default ${DEFAULT_DATABASE_URL}

Example:
  sudo drover admin init --service-user drover && sudo drover admin add alice
`,
  options: {
    admin: { type: "boolean" },
    "service-user": { type: "string" },
    json: { type: "boolean" },
  },
  positionals: ["ACTION", "USER?"],
  async run({ positionals, values, json }, io) {
    const [action, user] = positionals;
    if (!action || !ACTIONS.includes(action)) {
      throw new UsageError(`ACTION must be one of ${ACTIONS.join(", ")}`);
    }
    const needsUser = ["add", "remove", "grant", "revoke", "rotate"].includes(action);
    if (needsUser && !user) throw new UsageError(`missing USER for 'admin ${action}'`);
    const site = siteOf(io.env);
    const url = io.env.DROVER_DATABASE_URL || DEFAULT_DATABASE_URL;
    await ensureDatabase(url);
    const sql = createSql(url, { max: 1, application: "drover-admin" });
    const say = (text: string, doc: unknown) => (json ? writeJson(io, doc) : io.stdout(text));
    try {
      await migrate(sql);
      switch (action) {
        case "init": {
          const owner = values["service-user"] ? lookupAccount(values["service-user"]) : undefined;
          ensureServiceCredentials(site, owner);
          const { reloaded } = await publishUsers(sql, site);
          say(`site ready: ${site.dir}; NATS users in ${site.authFile}\n`, {
            site: site.dir,
            auth_file: site.authFile,
            reloaded,
          });
          return 0;
        }
        case "nats-config":
          io.stdout(authorizationBlock(await siteUsers(sql, site)));
          return 0;
        case "list": {
          const people = (await listPeople(sql)).map((p) => ({
            user: p.user_name,
            token: p.token,
            admin: p.admin,
            active: p.nkey !== null,
          }));
          if (json) writeJson(io, { people });
          else
            for (const p of people)
              io.stdout(`${p.user}${p.admin ? " (admin)" : ""}${p.active ? "" : " (no key)"}\n`);
          return 0;
        }
      }
      const name = user!;
      const token = userToken(name);
      const existing = await findPerson(sql, token);
      if (action === "remove") {
        if (!existing) throw new CliError(`${name} is not a person of this site`, 2);
        await removePerson(sql, token);
        const { reloaded } = await publishUsers(sql, site);
        try {
          rmSync(personCredentialsPath(lookupAccount(name)), { force: true });
        } catch {
          // the account is gone already: nothing to remove
        }
        say(`removed ${name}\n`, { user: name, removed: true, reloaded });
        return 0;
      }
      if ((action === "grant" || action === "revoke") && !existing) {
        throw new CliError(`${name} is not a person of this site (add them first)`, 2);
      }
      if (action === "grant" || action === "revoke") {
        await savePerson(sql, { ...existing!, admin: action === "grant" });
        const { reloaded } = await publishUsers(sql, site);
        say(`${name} is ${action === "grant" ? "an admin" : "a person"}\n`, {
          user: name,
          admin: action === "grant",
          reloaded,
        });
        return 0;
      }
      // add or rotate: new credentials into the person's home, their public key to NATS.
      if (action === "rotate" && !existing) {
        throw new CliError(`${name} is not a person of this site (add them first)`, 2);
      }
      const account = lookupAccount(name);
      const admin = action === "add" ? values.admin === true : existing!.admin;
      const credentials = newCredentials(name, token, admin ? "admin" : "person");
      const path = personCredentialsPath(account);
      writeCredentials(path, credentials, { uid: account.uid, gid: account.gid });
      await savePerson(sql, { token, user_name: name, admin, nkey: publicKey(credentials) });
      const { reloaded } = await publishUsers(sql, site);
      say(`${action === "add" ? "added" : "new credentials for"} ${name}: ${path}\n`, {
        user: name,
        token,
        admin,
        credentials: path,
        reloaded,
      });
      return 0;
    } finally {
      await sql.end();
    }
  },
});
