import { execFileSync } from "node:child_process";
import {
  type Dirent,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/**
 * Memory limits enforced by the kernel: each command runs in a memory cgroup of its own
 * whose limit is the requested memory, so a command that grabs memory faster than any
 * sampler can look is still stopped at its limit (the kernel holds it there, inside the
 * group) and the machine is never driven out of memory. Where no memory cgroup can be made
 * (no controller, no permission, cgroup v2 without delegation), `detect` finds none and
 * the caller falls back to sampling resident memory.
 *
 * A command over its limit must end whole, as it does when sampling finds it: no shell
 * going on to its next line after the kernel killed one process. v2 does that itself
 * (`memory.oom.group`: the kernel kills the whole group). v1 cannot, so its OOM killer is
 * turned off for the group (`oom_kill_disable`): a process over the limit is paused
 * instead, the runner sees `under_oom` at its next sample and kills the tree.
 *
 * Groups live under the runner's own cgroup, in a directory per runner process
 * (`drover-<pid>`), so the limits of whoever started the runner still apply above them.
 * The groups of a runner that died (SIGKILL) are emptied and removed by the next one:
 * their commands can no longer report, and their tasks are retried elsewhere.
 */

/**
 * `/bin/sh -c ENTER sh PROCS_FILE COMMAND`: the shell moves itself into the group, then
 * runs the command, so the command and everything it starts are limited from their first
 * instruction. It runs the command itself (eval, after clearing its own arguments)
 * rather than exec a second shell: that exec was a third of the cost of a short task.
 */
export const ENTER =
  'echo $$ > "$1" || { echo "drover: cannot enter the memory cgroup $1" >&2; exit 125; }; eval "set --; $2"';

interface Hierarchy {
  version: 1 | 2;
  limitFile: string;
  swapLimitFile: string;
  /** holds `oom_kill N` (and `under_oom 0|1` in v1) */
  eventsFile: string;
  /** what to write, and where, so that a group over its limit ends whole */
  wholeGroup: [file: string, value: string];
}

const V1: Hierarchy = {
  version: 1,
  limitFile: "memory.limit_in_bytes",
  swapLimitFile: "memory.memsw.limit_in_bytes",
  eventsFile: "memory.oom_control",
  wholeGroup: ["memory.oom_control", "1"],
};
const V2: Hierarchy = {
  version: 2,
  limitFile: "memory.max",
  swapLimitFile: "memory.swap.max",
  eventsFile: "memory.events",
  wholeGroup: ["memory.oom.group", "1"],
};

/**
 * The cgroups this process is in where a memory controller can be had, v1 first: its
 * directory in the v1 memory hierarchy, and in the v2 hierarchy.
 */
export function ownMemoryCgroups(
  mountRoot: string,
  selfCgroup: string,
): { version: 1 | 2; path: string }[] {
  const found: { version: 1 | 2; path: string }[] = [];
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(selfCgroup);
  if (v1 && existsSync(join(mountRoot, "memory", V1.limitFile))) {
    found.push({ version: 1, path: join(mountRoot, "memory", v1[1]!) });
  }
  const v2 = /^0::(.*)$/m.exec(selfCgroup);
  if (v2) {
    for (const mount of [mountRoot, join(mountRoot, "unified")]) {
      if (existsSync(join(mount, "cgroup.controllers"))) {
        found.push({ version: 2, path: join(mount, v2[1]!) });
        break;
      }
    }
  }
  return found;
}

/** One command's group. */
export interface MemoryCage {
  /** the file a process writes its pid to, to enter the group */
  procsFile: string;
  /** whether the group reached its limit: a process paused there, or killed by the kernel */
  overLimit(): boolean;
  /** removes the group once it is empty; retried later while processes linger */
  release(): void;
}

export interface CgroupOptions {
  /** where cgroup filesystems are mounted */
  mountRoot?: string;
  /** this process's cgroup memberships (the text of /proc/self/cgroup) */
  selfCgroup?: string;
  /** retry of a release while the group still holds processes */
  releaseRetryMs?: number;
}

/** The cgroups of one runner process: a group per command under `drover-<pid>`. */
export class MemoryCgroups {
  private constructor(
    readonly root: string,
    private readonly hierarchy: Hierarchy,
    private readonly releaseRetryMs: number,
  ) {}

  get version(): 1 | 2 {
    return this.hierarchy.version;
  }

  /**
   * The memory cgroups this process may create, or `{ unavailable }` with the reason when
   * there are none. Leftovers of runners that died without cleaning up are removed.
   */
  static detect(options: CgroupOptions = {}): MemoryCgroups | { unavailable: string } {
    const mountRoot = options.mountRoot ?? "/sys/fs/cgroup";
    let self: string;
    try {
      self = options.selfCgroup ?? readFileSync("/proc/self/cgroup", "utf8");
    } catch (err) {
      return { unavailable: `cannot read /proc/self/cgroup: ${(err as Error).message}` };
    }
    const candidates = ownMemoryCgroups(mountRoot, self).map(
      (c) => [c.version === 1 ? V1 : V2, c.path] as const,
    );
    const reasons: string[] = [];
    for (const [hierarchy, own] of candidates) {
      const root = join(own, `drover-${process.pid}`);
      try {
        removeStale(own);
        if (hierarchy.version === 2) delegateMemory(own);
        mkdirSync(root, { recursive: true });
        if (!existsSync(join(root, hierarchy.limitFile))) {
          // v2: the memory controller is not enabled for our children.
          rmdirSync(root);
          reasons.push(`cgroup v${hierarchy.version}: no memory controller under ${own}`);
          continue;
        }
        if (hierarchy.version === 2) enableMemoryController(root);
        const groups = new MemoryCgroups(root, hierarchy, options.releaseRetryMs ?? 5000);
        groups.probe();
        return groups;
      } catch (err) {
        reasons.push(`cgroup v${hierarchy.version} at ${own}: ${(err as Error).message}`);
      }
    }
    return { unavailable: reasons.join("; ") || "no memory cgroup hierarchy is mounted" };
  }

  /** A new group limited to `limitBytes` (no swap beyond it), named after the instance. */
  cage(name: string, limitBytes: number): MemoryCage {
    const dir = join(this.root, name);
    const h = this.hierarchy;
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(join(dir, h.limitFile), String(limitBytes));
      // v1 counts memory plus swap in memsw, which must not be below the limit; v2
      // counts swap apart. Either file is absent when swap accounting is off.
      const swap = join(dir, h.swapLimitFile);
      if (existsSync(swap)) writeFileSync(swap, h.version === 1 ? String(limitBytes) : "0");
      writeFileSync(join(dir, h.wholeGroup[0]), h.wholeGroup[1]);
    } catch (err) {
      rmdirQuietly(dir);
      throw err;
    }
    const release = () => {
      if (rmdirQuietly(dir)) return;
      // Leftover processes of a finished command are being killed: try again later.
      setTimeout(() => rmdirQuietly(dir), this.releaseRetryMs).unref();
    };
    return {
      procsFile: join(dir, "cgroup.procs"),
      overLimit: () => reachedLimit(join(dir, h.eventsFile)),
      release,
    };
  }

  /** A shell enters a group the way every command will: or this throws, saying why. */
  private probe(): void {
    const cage = this.cage("probe", 64 * 1024 * 1024);
    try {
      execFileSync("/bin/sh", ["-c", ENTER, "sh", cage.procsFile, "true"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(stderr || (err as Error).message);
    } finally {
      cage.release();
    }
  }

  /** Removes this runner's directory (its groups must be empty by now). */
  close(): void {
    removeTree(this.root);
  }
}

/** `under_oom 1` or `oom_kill N>0` in memory.oom_control (v1) or memory.events (v2). */
function reachedLimit(file: string): boolean {
  try {
    return /^(under_oom|oom_kill) [1-9]/m.test(readFileSync(file, "utf8"));
  } catch {
    return false;
  }
}

/**
 * v2: lets the children of our own cgroup have a memory controller. A cgroup that holds
 * processes cannot hand controllers to its children (v2's no-internal-process rule), so
 * this process first moves into a leaf of its own (`runner`), as delegated services do;
 * if the controller still cannot be enabled it moves back and says why.
 */
export function delegateMemory(own: string): void {
  if (listsMemory(join(own, "cgroup.subtree_control"))) return;
  if (!listsMemory(join(own, "cgroup.controllers"))) {
    throw new Error(`the memory controller is not delegated to ${own} (systemd: Delegate=memory)`);
  }
  const leaf = join(own, "runner");
  mkdirSync(leaf, { recursive: true });
  writeFileSync(join(leaf, "cgroup.procs"), String(process.pid));
  try {
    writeFileSync(join(own, "cgroup.subtree_control"), "+memory");
  } catch (err) {
    writeFileSync(join(own, "cgroup.procs"), String(process.pid));
    rmdirQuietly(leaf);
    throw new Error(`cannot enable the memory controller in ${own}: ${(err as Error).message}`);
  }
}

/** v2: children of `dir` get a memory controller only when `dir` delegates it. */
export function enableMemoryController(dir: string): void {
  const control = join(dir, "cgroup.subtree_control");
  if (!listsMemory(control)) writeFileSync(control, "+memory");
}

/** Whether a v2 controller list (cgroup.controllers, cgroup.subtree_control) has memory. */
function listsMemory(file: string): boolean {
  return readFileSync(file, "utf8").split(/\s+/).includes("memory");
}

function rmdirQuietly(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Kills what a group and its child groups hold. */
function killMembers(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) killMembers(join(dir, e.name));
  let pids: string[] = [];
  try {
    pids = readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** A group directory and its (empty) child groups; cgroup files cannot be unlinked. */
function removeTree(dir: string): void {
  let children: string[] = [];
  try {
    children = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const child of children) removeTree(join(dir, child));
  rmdirQuietly(dir);
}

/** `drover-<pid>` directories of runners that are no longer alive. */
function removeStale(own: string): void {
  let names: string[];
  try {
    names = readdirSync(own);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^drover-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid || isAlive(Number(m[1]))) continue;
    const dir = join(own, name);
    killMembers(dir);
    // Killed processes leave their groups as they exit: wait a moment for that (this
    // runs once, at start-up, so blocking briefly is fine).
    for (let i = 0; i < 50 && existsSync(dir); i++) {
      removeTree(dir);
      if (existsSync(dir)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
