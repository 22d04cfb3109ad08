import { spawn } from "node:child_process";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { ENTER, type MemoryCage } from "./cgroup.ts";
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
  /** the complete environment of the command */
  env: NodeJS.ProcessEnv;
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
  pid: number | undefined;
  /** stops the command's whole tree; the first reason given wins */
  stop(reason: StopReason, detail?: string): void;
  done: Promise<CommandOutcome>;
}

export interface TaskIdentity {
  workflowId: number;
  taskId: number;
  instanceId: number;
  attempt: number;
  cluster: string;
}

/** The environment a task command sees: the runner's, plus who it is. */
export function taskEnv(base: NodeJS.ProcessEnv, task: TaskIdentity): NodeJS.ProcessEnv {
  return {
    ...base,
    DROVER_WORKFLOW_ID: String(task.workflowId),
    DROVER_TASK_ID: String(task.taskId),
    DROVER_TASK_INSTANCE_ID: String(task.instanceId),
    DROVER_ATTEMPT: String(task.attempt),
    DROVER_CLUSTER: task.cluster,
  };
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

export function runCommand(spec: RunSpec): RunningCommand {
  const grace = spec.killGraceMs ?? 5000;
  const startedAt = Date.now();
  const t0 = performance.now();
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

  let fds: number[];
  try {
    const out = openSync(spec.stdout, "w");
    const err = spec.stderr === spec.stdout ? out : openSync(spec.stderr, "w");
    fds = [out, err];
  } catch (err) {
    const message = `cannot open the output files: ${(err as Error).message}`;
    spec.cage?.release();
    return {
      pid: undefined,
      stop() {},
      done: Promise.resolve({ ...outcome({}), spawnError: message, stderrTail: message }),
    };
  }
  const { cage } = spec;
  const argv = cage
    ? ["-c", ENTER, "drover-cage", cage.procsFile, spec.command]
    : ["-c", spec.command];
  const child = spawn("/bin/sh", argv, {
    detached: true,
    stdio: ["ignore", fds[0], fds[1]],
    env: spec.env,
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
  });
  for (const fd of new Set(fds)) closeSync(fd);
  const pid = child.pid;

  const stop = (reason: StopReason, detail?: string) => {
    if (stoppedFor || exited || pid === undefined) return;
    stoppedFor = reason;
    stopDetail = detail;
    if (reason === "memory") {
      signalTree(pid, "SIGKILL");
      return;
    }
    signalTree(pid, "SIGTERM");
    killTimer = setTimeout(() => signalTree(pid, "SIGKILL"), grace);
  };

  if (pid !== undefined) {
    unwatch = spec.sampler.watch(pid, (rss) => {
      if (peak === undefined || rss > peak) peak = rss;
      if (cage) {
        if (cage.overLimit()) stop("memory", AT_CGROUP_LIMIT);
      } else if (spec.memoryLimitBytes !== undefined && rss > spec.memoryLimitBytes) {
        stop("memory", `used ${rss} bytes`);
      }
    });
    if (spec.runtimeLimitSeconds !== undefined) {
      runtimeTimer = setTimeout(() => stop("runtime"), spec.runtimeLimitSeconds * 1000);
    }
  }

  const done = new Promise<CommandOutcome>((resolve) => {
    child.once("error", (err) => {
      if (pid !== undefined) return; // a started child reports through "exit"
      unwatch?.();
      cage?.release();
      resolve({ ...outcome({}), spawnError: `cannot start /bin/sh: ${err.message}` });
    });
    child.once("exit", async (code, signal) => {
      exited = true;
      const runtimeSeconds = Math.round(performance.now() - t0) / 1000;
      clearTimeout(runtimeTimer);
      if (!stoppedFor && cage?.overLimit()) {
        // It reached its limit between two samples: that is how it ended, whatever the
        // shell made of it; what is left of the tree goes too.
        stoppedFor = "memory";
        stopDetail = AT_CGROUP_LIMIT;
        if (pid !== undefined) signalTree(pid, "SIGKILL");
      }
      if (stoppedFor === "memory" && spec.memoryLimitBytes !== undefined) {
        // It reached its limit, whether or not a sample saw it.
        peak = Math.max(peak ?? 0, spec.memoryLimitBytes);
      }
      if (pid !== undefined && treeMembers(pid).length > 0) {
        if (stoppedFor) {
          // Report a stopped command only once nothing of it is left.
          const deadline = Date.now() + grace + 2000;
          while (treeMembers(pid).length > 0 && Date.now() < deadline) await sleep(50);
        } else {
          // Leftover background processes of a finished command are cleaned up, as
          // Slurm does at the end of a job, without delaying the report.
          signalTree(pid, "SIGTERM");
          setTimeout(() => signalTree(pid, "SIGKILL"), grace).unref();
        }
      }
      clearTimeout(killTimer);
      unwatch?.();
      cage?.release();
      resolve(outcome({ exitCode: code, signal, runtimeSeconds }));
    });
  });

  return { pid, stop, done };
}
