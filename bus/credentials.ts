import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { nkeys } from "@nats-io/nats-core";
import { z } from "zod";
import { isToken } from "../core/identity.ts";

/**
 * NATS credentials: an nkey pair per person and per role. The server's configuration
 * holds only public keys (bus/permissions.ts); the seed stays in the holder's
 * credentials file, readable by them alone. The file also names the holder's token,
 * which is the token their subjects carry and their inbox prefix.
 */

export const ROLES = ["person", "admin", "function", "gui", "supervisor"] as const;
export type Role = (typeof ROLES)[number];

export const Credentials = z.object({
  v: z.literal(1),
  /** the Unix user name, or the role's name for a service */
  user: z.string().min(1),
  token: z.string().refine(isToken, "must be a user token"),
  role: z.enum(ROLES),
  /** the nkey seed (`SU…`): the secret */
  seed: z.string().regex(/^SU[A-Z2-7]+$/, "must be a user nkey seed"),
});
export type Credentials = z.infer<typeof Credentials>;

/**
 * Where a person's credentials live: `~/.drover/credentials.json`, theirs, 0600 (written
 * by drover admin, read by their clients and their bridges).
 */
export function personCredentialsPath(account: { home: string }): string {
  return join(account.home, ".drover", "credentials.json");
}

/** The inbox prefix of a holder: no one else may subscribe under it. */
export function inboxPrefix(token: string): string {
  return `_INBOX_${token}`;
}

export function newCredentials(user: string, token: string, role: Role): Credentials {
  const pair = nkeys.createUser();
  return { v: 1, user, token, role, seed: new TextDecoder().decode(pair.getSeed()) };
}

export function publicKey(credentials: Pick<Credentials, "seed">): string {
  return nkeys.fromSeed(new TextEncoder().encode(credentials.seed)).getPublicKey();
}

export class CredentialsError extends Error {
  override name = "CredentialsError";
}

export function readCredentials(path: string): Credentials {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CredentialsError(
      `credentials ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CredentialsError(`credentials ${path} are not JSON`);
  }
  const parsed = Credentials.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new CredentialsError(`credentials ${path} are invalid: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/**
 * Writes a credentials file readable by its owner only: made 0600 before the secret is
 * in it, under a name no one else can have opened, then renamed into place; owned by
 * `owner` (uid, gid) when given, with its folder (0700) when this call made it.
 */
export function writeCredentials(
  path: string,
  credentials: Credentials,
  owner?: { uid: number; gid: number },
): void {
  const dir = dirname(path);
  const made = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (made && owner) chownSync(dir, owner.uid, owner.gid);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, "", { mode: 0o600, flag: "wx" });
  chmodSync(temporary, 0o600);
  if (owner) chownSync(temporary, owner.uid, owner.gid);
  writeFileSync(temporary, `${JSON.stringify(Credentials.parse(credentials), null, 2)}\n`);
  renameSync(temporary, path);
}
