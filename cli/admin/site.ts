import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sql } from "postgres";
import {
  type Credentials,
  newCredentials,
  publicKey,
  readCredentials,
  writeCredentials,
} from "../../bus/credentials.ts";
import { authorizationBlock, type NatsUser, natsUserOf } from "../../bus/nats-config.ts";
import { userToken } from "../../core/identity.ts";
import { listPeople } from "../../store/people.ts";

/**
 * A site's people and services as `drover admin` keeps them: the services' credentials
 * and the NATS authorization file in the site folder (DROVER_SITE_DIR, default
 * /etc/drover, 0700), people in Postgres (their public keys; their secrets are in their
 * own homes only). Every change rewrites the authorization file and asks NATS to reload
 * it (SIGHUP to the pid in DROVER_NATS_PID_FILE, as `nats-server --signal reload` does).
 */

export interface Site {
  dir: string;
  authFile: string;
  pidFile: string | undefined;
}

export function siteOf(env: Record<string, string | undefined>): Site {
  const dir = env.DROVER_SITE_DIR || "/etc/drover";
  return {
    dir,
    authFile: env.DROVER_NATS_AUTH_FILE || join(dir, "nats-auth.conf"),
    pidFile: env.DROVER_NATS_PID_FILE || undefined,
  };
}

export const SERVICES = [
  { file: "functions.credentials.json", user: "drover-functions", role: "function", root: false },
  { file: "gui.credentials.json", user: "drover-gui", role: "gui", root: false },
  // root's: the supervisor on each login node runs as root (copy it there, 0600)
  {
    file: "supervisor.credentials.json",
    user: "drover-supervisor",
    role: "supervisor",
    root: true,
  },
] as const;

/** The services' credentials, made once (init); `owner` is the account they run as. */
export function ensureServiceCredentials(
  site: Site,
  owner?: { uid: number; gid: number },
): Credentials[] {
  mkdirSync(site.dir, { recursive: true, mode: 0o700 });
  return SERVICES.map((s) => {
    const path = join(site.dir, s.file);
    if (existsSync(path)) return readCredentials(path);
    const made = newCredentials(s.user, userToken(s.user), s.role);
    writeCredentials(path, made, s.root ? undefined : owner);
    return made;
  });
}

/** Every NATS user of the site: the services, then each person (by their public key). */
export async function siteUsers(sql: Sql, site: Site): Promise<NatsUser[]> {
  const services = SERVICES.filter((s) => existsSync(join(site.dir, s.file))).map((s) =>
    natsUserOf(readCredentials(join(site.dir, s.file))),
  );
  const people = (await listPeople(sql))
    .filter((p) => p.nkey !== null)
    .map((p): NatsUser => ({ nkey: p.nkey!, role: p.admin ? "admin" : "person", token: p.token }));
  return [...services, ...people];
}

/** Rewrites the authorization file (atomically) and has NATS reload it. */
export async function publishUsers(sql: Sql, site: Site): Promise<{ reloaded: boolean }> {
  const text = authorizationBlock(await siteUsers(sql, site));
  const temporary = `${site.authFile}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o644 });
  renameSync(temporary, site.authFile);
  if (!site.pidFile) return { reloaded: false };
  const pid = Number(readFileSync(site.pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${site.pidFile} holds no pid`);
  process.kill(pid, "SIGHUP");
  return { reloaded: true };
}

export { publicKey };
