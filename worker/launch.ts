import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, fchmodSync, fstatSync, openSync, statSync } from "node:fs";

/**
 * Starting one command: its output files opened (owner only), its folder checked, then
 * `spawn` as the leader of its own session. Node imports only: the spawner process
 * (worker/spawner.ts) is built from this file and must stay small, since each fork
 * copies the page tables of the process that forks.
 */

export interface LaunchRequest {
  /** argv of /bin/sh */
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  stdout: string;
  stderr: string;
}

/** `lost`: whether it started is unknown (the spawner asked to start it stopped meanwhile) */
export type Started = { pid: number } | { error: string; lost?: boolean };

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** set when the exit was not seen (the spawner that started it stopped) */
  lostTrack?: string;
}

export interface LaunchedProcess {
  started: Promise<Started>;
  /** resolves once a started process exited; never for one that did not start */
  ended: Promise<Ended>;
}

/** Starts commands: in this process, or through a spawner process. */
export interface Launcher {
  launch(request: LaunchRequest): LaunchedProcess;
}

/** A file opened for writing (truncated), mode 0600 whether it is new or was there. */
export function openOwnerOnly(path: string): number {
  const fd = openSync(path, "w", 0o600);
  // Only a regular file: /dev/null (no output kept) must stay as it is.
  const opened = fstatSync(fd);
  if (opened.isFile() && (opened.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  return fd;
}

function folderProblem(dir: string): string | null {
  try {
    return statSync(dir).isDirectory() ? null : "not a folder";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT"
      ? "no such folder"
      : code === "EACCES"
        ? "permission denied"
        : String(err);
  }
}

/**
 * Spawns the command, or says why it cannot start (in the words a task's error shows).
 * A spawn that fails late (EAGAIN, no /bin/sh) is reported through the child's "error".
 */
export function spawnCommand(request: LaunchRequest): { child: ChildProcess } | { error: string } {
  let fds: number[];
  try {
    // The owner's only: a task's output may hold anything its command printed.
    const out = openOwnerOnly(request.stdout);
    const err = request.stderr === request.stdout ? out : openOwnerOnly(request.stderr);
    fds = [out, err];
  } catch (err) {
    return { error: `cannot open the output files: ${(err as Error).message}` };
  }
  try {
    if (request.cwd !== undefined) {
      // spawn would say "spawn /bin/sh ENOENT" for a missing folder: say what is missing.
      const problem = folderProblem(request.cwd);
      if (problem) return { error: `cannot run in the working folder ${request.cwd}: ${problem}` };
    }
    const child = spawn("/bin/sh", request.argv, {
      detached: true,
      stdio: ["ignore", fds[0], fds[1]],
      env: request.env,
      ...(request.cwd ? { cwd: request.cwd } : {}),
    });
    return { child };
  } catch (err) {
    // invalid arguments (a NUL byte in the environment) throw at once
    return { error: `cannot start /bin/sh: ${(err as Error).message}` };
  } finally {
    for (const fd of new Set(fds)) closeSync(fd);
  }
}

/** When and how a spawned child started and ended. */
export function watchChild(child: ChildProcess): LaunchedProcess {
  const started: Promise<Started> =
    child.pid !== undefined
      ? Promise.resolve({ pid: child.pid })
      : new Promise((resolve) =>
          child.once("error", (err) => resolve({ error: `cannot start /bin/sh: ${err.message}` })),
        );
  const ended = new Promise<Ended>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { started, ended };
}

/** Starts commands from this process: right for a process as small as the Slurm worker. */
export const inThisProcess: Launcher = {
  launch(request) {
    const spawned = spawnCommand(request);
    if ("error" in spawned) {
      return { started: Promise.resolve({ error: spawned.error }), ended: new Promise(() => {}) };
    }
    return watchChild(spawned.child);
  },
};
