import { chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Account } from "../core/account.ts";
import { delegateMemory, enableMemoryController, ownMemoryCgroups } from "../worker/cgroup.ts";

/**
 * A memory cgroup subtree per person, so that a bridge running as them still has the
 * kernel stop each command at its memory limit (worker/cgroup.ts makes a group per
 * command under the bridge's own). Made by root under the supervisor's own cgroup, in
 * `drover-people/<user>`, and handed to the person: the directory and the files that
 * let them make groups in it and move their processes between them. The limit files of
 * their directory stay root's, so a site may cap a person's total there.
 */

export interface PersonCgroup {
  /** the file the bridge's first process writes its pid to, to start inside the subtree */
  procsFile: string;
  path: string;
}

/** The files a person's directory hands over, by cgroup version (v2: a delegated subtree). */
const HANDED_OVER = {
  1: ["cgroup.procs", "tasks"],
  2: ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"],
} as const;

export function personCgroup(
  account: Account,
  options: { mountRoot?: string; selfCgroup?: string } = {},
): PersonCgroup | { unavailable: string } {
  const self = options.selfCgroup ?? readFileSync("/proc/self/cgroup", "utf8");
  const reasons: string[] = [];
  for (const { version, path: own } of ownMemoryCgroups(
    options.mountRoot ?? "/sys/fs/cgroup",
    self,
  )) {
    try {
      const people = join(own, "drover-people");
      if (version === 2) {
        delegateMemory(own);
        mkdirSync(people, { recursive: true });
        enableMemoryController(people);
      }
      const dir = join(people, account.name);
      mkdirSync(dir, { recursive: true });
      for (const file of ["", ...HANDED_OVER[version]]) {
        const path = join(dir, file);
        if (file === "" || existsSync(path)) chownSync(path, account.uid, account.gid);
      }
      return { path: dir, procsFile: join(dir, "cgroup.procs") };
    } catch (err) {
      reasons.push(`cgroup v${version} at ${own}: ${(err as Error).message}`);
    }
  }
  return { unavailable: reasons.join("; ") || "no memory cgroup hierarchy is mounted" };
}
