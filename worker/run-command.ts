import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { ENTER, type MemoryCage } from "./cgroup.ts";
import { inThisProcess, type Launcher } from "./launch.ts";
import { type MemorySampler, signalTree, treeMembers } from "./proc.ts";

/**
 * Runs one task command the way every Drover backend does: `/bin/sh -c COMMAND` as the
 * leader of its own session (so the whole tree can be measured and killed), stdout and
 * stderr straight to files (no Node process and no pipe per task), peak memory sampled
 * over the tree. Shared by the local bridge and the worker wrapper.
 *
 * Limits are optional (the local bridge enforces them; under Slurm, Slurm does). Memory:
 * in a memory cgroup when the caller gives one (the kernel stops the command at its
 * limit, however fast it allocates), else by sampling; either way the tree is SIGKILLed
 * at once. Over runtime, a kill order or a stopping bridge → SIGTERM, then SIGKILL after
 * the grace. A stopped command is reported only once its tree is gone, so "killed" means
 * no process is left.
 */

export type StopReason = "memory" | "runtime" | "killed" | "lost";

export const STDERR_TAIL_BYTES = 10 * 1024;

export interface RunSpec {
  command: string;
  stdout: string;
  stderr: string;
  /** the complete environment of the command (core/task-env.ts composeTaskEnv) */
  env: NodeJS.ProcessEnv;
  /** where it runs; it must be a folder that exists */
  cwd?: string;
  memoryLimitBytes?: number;
  runtimeLimitSeconds?: number;
  /** between SIGTERM and SIGKILL */
  killGraceMs?: number;
  sampler: MemorySampler;
  /**
   * the cgroup that enforces memoryLimitBytes, released when the command ends; the
   * sampler's ticks look at its state. Without one, sampled RSS enforces the limit.
   */
  cage?: MemoryCage;
  /** what starts the process: this one by default (see local-bridge/spawner-process.ts) */
  launcher?: Launcher;
}

export interface CommandOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** ms since the epoch */
  startedAt: number;
  /** wall clock */
  runtimeSeconds: number;
  /** peak resident memory of the tree; absent when it ended before its first sample */
  peakMemoryBytes?: number;
  /** set when we stopped it (limit, kill order, bridge stopping) */
  stoppedFor?: StopReason;
  /** what the stop was about: the kill order's reason, the limit that was exceeded */
  stopDetail?: string;
  /** the command could not be started at all */
  spawnError?: string;
  stderrTail: string;
}

export interface RunningCommand {
  /** the session leader's pid, once it started */
  readonly pid: number | undefined;
  /** stops the command's whole tree; the first reason given wins */
  stop(reason: StopReason, detail?: string): void;
  done: Promise<CommandOutcome>;
}

/** The last `bytes` of a file as text (empty when it cannot be read). */
export function readTail(path: string, bytes = STDERR_TAIL_BYTES): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    // A cut through a multi-byte character decodes to U+FFFD: drop it.
    return buf.toString("utf8").replace(/^\uFFFD+/, "");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const AT_CGROUP_LIMIT = "stopped at the limit of its memory cgroup";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether anything of a command's tree is left once its leader exited. Most commands
 * leave nothing, and a scan of /proc costs a read per process of the host: first the
 * cheap exact answers — the process group (one signal 0) and, with a memory cgroup, its
 * member list, which holds every process of the command whatever its group or session.
 * Only without a cgroup does an empty group still need the scan (a member may have left
 * the group but not the session).
 */
function treeLeft(pid: number, cage: RunSpec["cage"]): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    // ESRCH: the group is empty; EPERM: someone is in it
    if ((err as NodeJS.ErrnoException).code === "EPERM") return true;
  }
  if (cage) {
    try {
      return readFileSync(cage.procsFile, "utf8").trim() !== "";
    } catch {
      // the group is gone: nothing of the command can be in it
      return false;
    }
  }
  return treeMembers(pid).length > 0;
}

export function runCommand(spec: RunSpec): RunningCommand {
  const grace = spec.killGraceMs ?? 5000;
  const startedAt = Date.now();
  const t0 = performance.now();
  const { cage } = spec;
  let pid: number | undefined;
  let peak: number | undefined;
  let stoppedFor: StopReason | undefined;
  let stopDetail: string | undefined;
  let exited = false;
  let killTimer: NodeJS.Timeout | undefined;
  let runtimeTimer: NodeJS.Timeout | undefined;
  let unwatch: (() => void) | undefined;

  const outcome = (fields: Partial<CommandOutcome>): CommandOutcome => ({
    exitCode: null,
    signal: null,
    startedAt,
    runtimeSeconds: Math.round(performance.now() - t0) / 1000,
    ...(peak !== undefined ? { peakMemoryBytes: peak } : {}),
    ...(stoppedFor ? { stoppedFor } : {}),
    ...(stopDetail ? { stopDetail } : {}),
    stderrTail: readTail(spec.stderr),
    ...fields,
  });

  const signalStop = (leader: number) => {
    if (stoppedFor === "memory") {
      signalTree(leader, "SIGKILL");
      return;
    }
    signalTree(leader, "SIGTERM");
    killTimer = setTimeout(() => signalTree(leader, "SIGKILL"), grace);
  };
  // A stop before the process is known to have started is carried out once it has.
  const stop = (reason: StopReason, detail?: string) => {
    if (stoppedFor || exited) return;
    stoppedFor = reason;
    stopDetail = detail;
    if (pid !== undefined) signalStop(pid);
  };

  const watch = (leader: number) => {
    unwatch = spec.sampler.watch(leader, (rss) => {
      if (peak === undefined || rss > peak) peak = rss;
      if (cage) {
        if (cage.overLimit()) stop("memory", AT_CGROUP_LIMIT);
      } else if (spec.memoryLimitBytes !== undefined && rss > spec.memoryLimitBytes) {
        stop("memory", `used ${rss} bytes`);
      }
    });
    if (spec.runtimeLimitSeconds !== undefined) {
      const left = spec.runtimeLimitSeconds * 1000 - (performance.now() - t0);
      runtimeTimer = setTimeout(() => stop("runtime"), Math.max(0, left));
    }
  };

  const ended = async (leader: number, code: number | null, signal: NodeJS.Signals | null) => {
    exited = true;
    const runtimeSeconds = Math.round(performance.now() - t0) / 1000;
    clearTimeout(runtimeTimer);
    if (!stoppedFor && cage?.overLimit()) {
      // It reached its limit between two samples: that is how it ended, whatever the
      // shell made of it; what is left of the tree goes too.
      stoppedFor = "memory";
      stopDetail = AT_CGROUP_LIMIT;
      signalTree(leader, "SIGKILL");
    }
    if (stoppedFor === "memory" && spec.memoryLimitBytes !== undefined) {
      // It reached its limit, whether or not a sample saw it.
      peak = Math.max(peak ?? 0, spec.memoryLimitBytes);
    }
    if (treeLeft(leader, cage)) {
      if (stoppedFor) {
        // Report a stopped command only once nothing of it is left.
        const deadline = Date.now() + grace + 2000;
        while (treeMembers(leader).length > 0 && Date.now() < deadline) await sleep(50);
      } else {
        // Leftover background processes of a finished command are cleaned up, as
        // Slurm does at the end of a job, without delaying the report.
        signalTree(leader, "SIGTERM");
        setTimeout(() => signalTree(leader, "SIGKILL"), grace).unref();
      }
    }
    clearTimeout(killTimer);
    unwatch?.();
    cage?.release();
    return outcome({ exitCode: code, signal, runtimeSeconds });
  };

  const launched = (spec.launcher ?? inThisProcess).launch({
    argv: cage ? ["-c", ENTER, "sh", cage.procsFile, spec.command] : ["-c", spec.command],
    env: spec.env,
    ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    stdout: spec.stdout,
    stderr: spec.stderr,
  });
  const done = launched.started.then(async (started): Promise<CommandOutcome> => {
    if ("error" in started) {
      cage?.release();
      if (started.lost) return outcome({ stoppedFor: "lost", stopDetail: started.error });
      return { ...outcome({}), spawnError: started.error, stderrTail: started.error };
    }
    pid = started.pid;
    if (stoppedFor) signalStop(pid);
    watch(pid);
    const end = await launched.ended;
    if (end.lostTrack && !stoppedFor) {
      // Its exit went unseen: it is ended here, and reported lost (so it runs again).
      stoppedFor = "lost";
      stopDetail = end.lostTrack;
      signalTree(pid, "SIGKILL");
    }
    return ended(pid, end.code, end.signal);
  });

  return {
    get pid() {
      return pid;
    },
    stop,
    done,
  };
}
