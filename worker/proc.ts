import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/**
 * The process trees of running commands, read from /proc. Every command is started as
 * the leader of its own session (`setsid`), so its tree is "every process whose session
 * or process group is the leader's pid": that survives the leader exiting before its
 * children and a child shell moving jobs to other process groups. One scan of /proc
 * serves every command being watched.
 */

export interface ProcEntry {
  pid: number;
  /** R, S, D, Z, … (zombies are left out of scans: they hold no memory and cannot be killed) */
  state: string;
  pgrp: number;
  session: number;
  rssBytes: number;
}

let pageSize: number | undefined;

function pageBytes(): number {
  if (pageSize === undefined) {
    try {
      pageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) || 4096;
    } catch {
      pageSize = 4096;
    }
  }
  return pageSize;
}

/** Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses. */
export function parseStat(pid: number, text: string): ProcEntry | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after the name, from field 3 (state): ppid=1, pgrp=2, session=3, rss=21.
  const fields = text.slice(close + 2).split(" ");
  const state = fields[0] ?? "?";
  const pgrp = Number(fields[2]);
  const session = Number(fields[3]);
  const rssPages = Number(fields[21]);
  if (!Number.isFinite(pgrp) || !Number.isFinite(session) || !Number.isFinite(rssPages)) {
    return undefined;
  }
  return { pid, state, pgrp, session, rssBytes: rssPages * pageBytes() };
}

/** Every process of the host, as far as /proc lets us see (processes vanish mid-scan). */
export function scanProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(name);
    try {
      const entry = parseStat(pid, readFileSync(`/proc/${name}/stat`, "latin1"));
      if (entry && entry.state !== "Z" && entry.state !== "X") out.push(entry);
    } catch {
      // exited between readdir and read
    }
  }
  return out;
}

/** The processes of the tree led by `leader` (session or process group). */
export function treeMembers(leader: number, scan: ProcEntry[] = scanProcesses()): ProcEntry[] {
  return scan.filter((p) => p.session === leader || p.pgrp === leader);
}

/**
 * Signals a command's whole tree: its process group at once, then any member that left
 * the group but not the session. Members that are gone already are skipped.
 */
export function signalTree(leader: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-leader, signal);
  } catch {
    // no process left in the group
  }
  for (const p of treeMembers(leader)) {
    if (p.pgrp === leader) continue;
    try {
      process.kill(p.pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

type Listener = (rssBytes: number) => void;

/**
 * Samples the resident memory of watched trees every `everyMs` (one /proc scan per tick
 * for all of them). The timer runs only while something is watched.
 */
export class MemorySampler {
  private readonly watched = new Map<number, Listener>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly everyMs = 250) {}

  watch(leader: number, listener: Listener): () => void {
    this.watched.set(leader, listener);
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), this.everyMs);
      this.timer.unref();
    }
    return () => {
      this.watched.delete(leader);
      if (this.watched.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** One sample of every watched tree now (also called by the timer). */
  sample(): void {
    if (this.watched.size === 0) return;
    const totals = new Map<number, number>();
    for (const p of scanProcesses()) {
      const leader = this.watched.has(p.session)
        ? p.session
        : this.watched.has(p.pgrp)
          ? p.pgrp
          : 0;
      if (leader !== 0) totals.set(leader, (totals.get(leader) ?? 0) + p.rssBytes);
    }
    for (const [leader, listener] of this.watched) {
      const total = totals.get(leader);
      if (total !== undefined) listener(total);
    }
  }
}
