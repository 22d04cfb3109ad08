/**
 * Files only their owner may read (mode 0600, folders 0700): Drover's home, the stack
 * file (it holds the database URL), task logs, Slurm job folders and manifests (every
 * command, the environment, the NATS URL). Modes are given explicitly, whatever the
 * umask; an existing folder or file of ours is tightened.
 */
import { chmodSync, fstatSync, mkdirSync, openSync, statSync, writeFileSync } from "node:fs";

const own = (uid: number) => typeof process.getuid !== "function" || process.getuid() === uid;

/** `mkdir -p` with 0700 for every folder made; the folder itself is made 0700 if it is ours. */
export function privateDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0 && own(st.uid)) chmodSync(path, 0o700);
  return path;
}

/** Writes (replaces) a file readable by its owner only. */
export function writePrivateFile(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Opens a file for appending, readable by its owner only. */
export function openPrivateAppend(path: string): number {
  const fd = openSync(path, "a", 0o600);
  if ((fstatSync(fd).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return fd;
}
