import type { ErrorEntry, ResultEntry } from "../worker/results.ts";
import { formatBytes } from "../worker/results.ts";

/**
 * sacct: the ONE status query per poll cycle for all of the bridge's jobs, its parser,
 * and how Slurm's states map to task-instance results (SLURM.md "Reading sacct").
 *
 * Lines come from `--parsable2 --noheader` with FORMAT below, without `-X`, so that each
 * array element's `.batch` step line brings its MaxRSS. An array's elements that have not
 * started share one record in range notation (`12_[3-1000%5]`), expanded here.
 */

export const SACCT_FORMAT = "JobID,State,ExitCode,MaxRSS,Elapsed,NodeList";

/** One array element as sacct reports it (its job line, plus MaxRSS from its steps). */
export interface SacctElement {
  jobId: string;
  index: number;
  /** the state's first word: `CANCELLED by 0` → CANCELLED */
  state: string;
  /** what followed the state's first word (`by 0`), if anything */
  stateDetail?: string;
  exitCode: number;
  signal: number;
  elapsedSeconds?: number;
  node?: string;
  maxRssBytes?: number;
}

/** Elements by job id, then by array index. */
export type SacctRecords = Map<string, Map<number, SacctElement>>;

/** `YYYY-MM-DDTHH:MM:SS` in local time, as sacct's `--starttime` takes it. */
export function slurmTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Arguments of the poll's sacct call: every job at once, bounded in time. */
export function sacctArgs(jobIds: readonly string[], sinceMs: number): string[] {
  return [
    "--parsable2",
    "--noheader",
    `--jobs=${jobIds.join(",")}`,
    `--starttime=${slurmTime(sinceMs)}`,
    `--format=${SACCT_FORMAT}`,
  ];
}

const UNITS: Record<string, number> = {
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
};

/** `1164K`, `3.50M`, `2G`, `512` (bytes) → bytes; undefined when empty or unreadable. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGTP])?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2] ? UNITS[m[2].toUpperCase()]! : 1;
  return Math.round(Number(m[1]) * unit);
}

/** `[D-]HH:MM:SS`, `MM:SS`, `MM:SS.mmm` → seconds. */
export function parseElapsed(text: string): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2] ?? 0) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

/** `1,3,5-7`, `3-1000%5`, `0-9:2` → the indices. */
export function expandIndices(spec: string): number[] {
  const out: number[] = [];
  const body = spec.replace(/%\d+$/, "");
  for (const item of body.split(",")) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(item.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Math.max(1, Number(m[3]));
    for (let i = from; i <= to; i += step) out.push(i);
  }
  return out;
}

/** Indices as compact ranges: [0,1,2,5,7,8] → `0-2,5,7-8`. */
export function compactIndices(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

const JOB_ID = /^(\d+)_(?:(\d+)|\[([^\]]+)\])(?:\.(.+))?$/;

export function parseSacct(text: string): SacctRecords {
  const records: SacctRecords = new Map();
  const rss = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const [
      jobIdField = "",
      stateField = "",
      exitField = "",
      maxRss = "",
      elapsed = "",
      nodes = "",
    ] = line.split("|");
    const m = JOB_ID.exec(jobIdField.trim());
    // Not an array element (a plain job, a heterogeneous component): not ours.
    if (!m) continue;
    const jobId = m[1]!;
    const step = m[4];
    if (step !== undefined) {
      // A step line (`.batch`, `.extern`, `.0`): only its MaxRSS matters.
      const bytes = parseSize(maxRss);
      if (m[2] !== undefined && bytes !== undefined) {
        const key = `${jobId}_${m[2]}`;
        rss.set(key, Math.max(rss.get(key) ?? 0, bytes));
      }
      continue;
    }
    const [state = "", ...detail] = stateField.trim().split(/\s+/);
    const [exitCode = "0", signal = "0"] = exitField.trim().split(":");
    const node = nodes.trim();
    const base = {
      jobId,
      state: state.toUpperCase(),
      ...(detail.length > 0 ? { stateDetail: detail.join(" ") } : {}),
      exitCode: Number(exitCode) || 0,
      signal: Number(signal) || 0,
      ...(parseElapsed(elapsed) !== undefined ? { elapsedSeconds: parseElapsed(elapsed)! } : {}),
      ...(node && node !== "None assigned" && node !== "(null)" ? { node } : {}),
    };
    let byIndex = records.get(jobId);
    if (!byIndex) {
      byIndex = new Map();
      records.set(jobId, byIndex);
    }
    const indices = m[2] !== undefined ? [Number(m[2])] : expandIndices(m[3] ?? "");
    for (const index of indices) byIndex.set(index, { ...base, index });
  }
  for (const [key, bytes] of rss) {
    const [jobId, index] = key.split("_");
    const el = records.get(jobId!)?.get(Number(index));
    if (el) el.maxRssBytes = bytes;
  }
  return records;
}

/** Where an element stands. */
export type Phase = "pending" | "running" | "ended";

const LIVE_RUNNING = new Set([
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "STOPPED",
  "SIGNALING",
  "STAGE_OUT",
  "RESIZING",
]);
const ENDED = new Set([
  "COMPLETED",
  "FAILED",
  "OUT_OF_MEMORY",
  "TIMEOUT",
  "CANCELLED",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "REVOKED",
]);

/** PENDING, REQUEUED, CONFIGURING and states not known here count as pending (live). */
export function phaseOf(state: string): Phase {
  if (ENDED.has(state)) return "ended";
  if (LIVE_RUNNING.has(state)) return "running";
  return "pending";
}

export interface OutcomeContext {
  instanceId: number;
  /** a kill order of ours named this instance */
  killOrdered: boolean;
  memoryBytes: number;
  runtimeSeconds: number;
  /** the command's stderr tail (from its log file) */
  stderrTail?: string;
  /** the tail of Slurm's own output file of the element (the worker's and slurmstepd's) */
  slurmOutputTail?: string;
}

function usage(el: SacctElement) {
  return {
    ...(el.elapsedSeconds !== undefined ? { runtime_used: el.elapsedSeconds } : {}),
    ...(el.maxRssBytes !== undefined ? { memory_used: el.maxRssBytes } : {}),
    ...(el.node ? { node: el.node } : {}),
  };
}

function clip(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The worker's note (a JSON line in Slurm's output) that it left a death by signal to us. */
export function workerDeferral(
  slurmOutputTail: string | undefined,
): { signal?: string; exitCode?: number } | undefined {
  if (!slurmOutputTail?.includes("left to the bridge")) return undefined;
  for (const line of slurmOutputTail.split("\n").reverse()) {
    if (!line.includes("left to the bridge")) continue;
    try {
      const note = JSON.parse(line) as { signal?: string | null; exit_code?: number | null };
      return {
        ...(note.signal ? { signal: note.signal } : {}),
        ...(typeof note.exit_code === "number" ? { exitCode: note.exit_code } : {}),
      };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The result of an ended element (null while it is live). sacct decides how a job died:
 * OUT_OF_MEMORY → `memory`; TIMEOUT → `runtime`; NODE_FAIL, PREEMPTED, BOOT_FAIL (and
 * DEADLINE, REVOKED) → `lost` (retried unchanged); CANCELLED → `killed` when we ordered
 * it, else `error`; FAILED → `error` with the exit code, or `memory` when Slurm's
 * over-memory kill without cgroups did it ("exceeded memory limit" in its output).
 */
export function outcomeOf(el: SacctElement, ctx: OutcomeContext): ResultEntry | null {
  if (phaseOf(el.state) !== "ended") return null;
  const id = ctx.instanceId;
  const u = usage(el);
  if (el.state === "COMPLETED" && el.exitCode === 0 && el.signal === 0) {
    return { done: { id, exit_code: 0, ...u } };
  }
  const tail =
    ctx.stderrTail && ctx.stderrTail.trim() !== ""
      ? ctx.stderrTail
      : ctx.slurmOutputTail && ctx.slurmOutputTail.trim() !== ""
        ? ctx.slurmOutputTail
        : undefined;
  const error = (
    kind: ErrorEntry["kind"],
    message: string,
    exitCode: number | null,
  ): ResultEntry => ({
    error: {
      id,
      kind,
      exit_code: exitCode,
      message: clip(message),
      ...(tail !== undefined ? { stderr_tail: tail.slice(-10240) } : {}),
      ...u,
    },
  });
  const stateText = `Slurm ${el.state}${el.stateDetail ? ` ${el.stateDetail}` : ""}`;
  switch (el.state) {
    case "OUT_OF_MEMORY":
      return error(
        "memory",
        `${stateText}: exceeded its memory request of ${formatBytes(ctx.memoryBytes)}; killed`,
        null,
      );
    case "TIMEOUT":
      return error(
        "runtime",
        `${stateText}: exceeded its time limit of ${Math.ceil(ctx.runtimeSeconds / 60)} min; killed`,
        null,
      );
    case "NODE_FAIL":
    case "PREEMPTED":
    case "BOOT_FAIL":
    case "DEADLINE":
    case "REVOKED":
      return error("lost", `${stateText}: retried unchanged`, null);
    case "CANCELLED":
      return ctx.killOrdered
        ? error("killed", `${stateText}: cancelled by a kill order`, null)
        : error("error", `${stateText}: cancelled outside Drover`, null);
    default: {
      // FAILED, or COMPLETED with a non-zero code (a step failed)
      const deferred = workerDeferral(ctx.slurmOutputTail);
      if (deferred?.signal) {
        return error("error", `killed by signal ${deferred.signal}`, null);
      }
      if (deferred?.exitCode !== undefined) {
        // Slurm keeps 7 bits of such a status (137 shows as 9): the worker's is exact.
        const code = deferred.exitCode;
        const note = code > 128 ? ` (a death by signal ${code - 128})` : "";
        return error("error", `exited with code ${code}${note}`, code);
      }
      if (el.signal !== 0) {
        if (ctx.slurmOutputTail && /exceeded (job )?memory limit/i.test(ctx.slurmOutputTail)) {
          return error(
            "memory",
            `${stateText}: exceeded its memory request of ${formatBytes(ctx.memoryBytes)}; killed by signal ${el.signal}`,
            null,
          );
        }
        return error("error", `${stateText}: killed by signal ${el.signal}`, null);
      }
      const bySignal = el.exitCode > 128 ? ` (a death by signal ${el.exitCode - 128})` : "";
      return error("error", `exited with code ${el.exitCode}${bySignal}`, el.exitCode);
    }
  }
}
