import { execFileSync } from "node:child_process";

/** A Unix account as the system knows it (local files, LDAP, SSSD: whatever getent asks). */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export function lookupAccount(name: string): Account {
  let line: string;
  try {
    line = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(`no Unix user named "${name}" on this host`);
  }
  const [, , uid, gid, , home] = line.split(":");
  return { name, uid: Number(uid), gid: Number(gid), home: home ?? "" };
}
