import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Real Unix users for tests of several people on one machine (needs root): named
 * `drover-t-<name>-<random>` so that runs never meet, with a home each; removed by
 * `remove()`, homes included.
 */
export interface TestUser {
  name: string;
  home: string;
}

export function addTestUsers(names: readonly string[]): {
  users: TestUser[];
  remove(): void;
} {
  const suffix = randomBytes(3).toString("hex");
  const users: TestUser[] = [];
  const remove = () => {
    for (const u of users) {
      try {
        execFileSync("userdel", ["-r", u.name], { stdio: "ignore" });
      } catch {
        rmSync(u.home, { recursive: true, force: true });
      }
    }
  };
  try {
    for (const n of names) {
      const name = `drover-t-${n}-${suffix}`;
      const home = `/home/${name}`;
      execFileSync("useradd", ["-m", "-d", home, "-s", "/bin/sh", name], { stdio: "ignore" });
      users.push({ name, home });
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { users, remove };
}

/**
 * A Drover install other users can run (the supervisor's bridges run as the people they
 * serve, as from /opt/drover): this checkout when every folder above it lets others
 * through, else a copy of it (hard links where the filesystem allows) in a folder that
 * does, removed by `remove()`.
 */
export function installForEveryone(root: string): { dir: string; remove(): void } {
  const open = (dir: string): boolean =>
    (statSync(dir).mode & 0o005) === 0o005 && (dir === "/" || open(dirname(dir)));
  if (open(root)) return { dir: root, remove: () => {} };
  const parent = mkdtempSync("/var/tmp/drover-install-");
  chmodSync(parent, 0o755);
  const dir = join(parent, "drover");
  try {
    execFileSync("cp", ["-al", root, dir], { stdio: "ignore" });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    execFileSync("cp", ["-a", root, dir], { stdio: "ignore" });
  }
  chmodSync(dir, 0o755);
  return { dir, remove: () => rmSync(parent, { recursive: true, force: true }) };
}
