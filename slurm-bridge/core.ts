import type { ErrorKind } from "../bus/schemas.ts";
import type { Logger } from "../core/log.ts";
import type { LiveSet } from "../worker/live.ts";
import type { Reporter } from "../worker/reporter.ts";
import type { ResultEntry } from "../worker/results.ts";
import type { SlurmCommands } from "./commands.ts";
import type { writePart } from "./sbatch.ts";
import type { BridgeState, TrackedInstance, TrackedPart } from "./state.ts";

/**
 * What the parts of a running slurm-bridge share: its settings, its state, and the two
 * ways out of it (a report, a poll soon). Built once by createCore (setup.ts); launch.ts,
 * kill.ts, poll.ts and adopt.ts each work on it.
 */

export interface ReportedOutcome {
  state: string;
  kind: "done" | ErrorKind;
  exit_code?: number | null;
  memory_used?: number;
  runtime_used?: number;
  node?: string;
  message?: string;
}

export interface SubmitBackoff {
  baseMs?: number;
  capMs?: number;
  maxUnknownAttempts?: number;
}

export interface BridgeCore {
  cluster: string;
  /** the person this bridge serves (its connection's token): their batches, as them */
  owner: string;
  tagPrefix: string;
  cmds: SlurmCommands;
  log: Logger;
  state: BridgeState;
  reporter: Reporter;
  live: LiveSet;
  /** aborted when the bridge stops: waits and retries end */
  signal: AbortSignal;
  jobsDir: string;
  maxArraySize: number;
  /** how far back a look for this installation's jobs goes */
  adoptWindowMs: number;
  /** an element gone from its job's records this long ends as an error */
  vanishMs: number;
  /** a job sacct does not know this long: its instances are lost */
  missingMs: number;
  /** a COMPLETED element waits this long for its step's MaxRSS */
  rssGraceMs: number;
  fileOptions: Parameters<typeof writePart>[2];
  submitBackoff: SubmitBackoff;
  afterSubmit?: (tag: string, jobId: string) => Promise<void>;
  counters: { pollCycles: number; batches: number; partsSubmitted: number; partsAdopted: number };
  reported: Record<"done" | ErrorKind, number>;
  /** what was reported per instance (the latest MAX_OUTCOMES) */
  outcomes: Map<number, ReportedOutcome>;
  /** kill orders for instances not (yet) tracked: their batch may still be on its way */
  earlyKills: Map<number, string>;
  /** publishes an instance's result once, and forgets the instance */
  report(inst: TrackedInstance | undefined, result: ResultEntry, slurmState: string): void;
  /** heartbeats a part's live instances from now on */
  track(part: TrackedPart): void;
  /** asks for a poll cycle soon */
  kick(): void;
  /** the poll interval now, for the logs */
  pollIntervalMs(): number;
}

export const MAX_OUTCOMES = 50_000;
export const MAX_EARLY_KILLS = 100_000;

export function killedResult(id: number, message: string): ResultEntry {
  return { error: { id, kind: "killed", exit_code: null, message: message.slice(0, 2000) } };
}

/** The report and track of a core: what happens when an instance ends or starts. */
export function reportingOf(
  core: Pick<BridgeCore, "state" | "reporter" | "live" | "reported" | "outcomes">,
): Pick<BridgeCore, "report" | "track"> {
  const { state, reporter, live, reported, outcomes } = core;
  return {
    track(part) {
      for (const inst of part.live.values()) live.add(inst.id, part.heartbeatSeconds);
    },
    report(inst, result, slurmState) {
      // Reported already (a kill and a poll crossing): once is enough.
      if (inst && state.instance(inst.id) !== inst) return;
      reporter.reportResult(result);
      const entry = "done" in result ? result.done : result.error;
      const kind = "done" in result ? "done" : result.error.kind;
      reported[kind]++;
      outcomes.set(entry.id, {
        state: slurmState,
        kind,
        ...(entry.exit_code !== undefined ? { exit_code: entry.exit_code } : {}),
        ...(entry.memory_used !== undefined ? { memory_used: entry.memory_used } : {}),
        ...(entry.runtime_used !== undefined ? { runtime_used: entry.runtime_used } : {}),
        ...(entry.node !== undefined ? { node: entry.node } : {}),
        ...("error" in result ? { message: result.error.message } : {}),
      });
      if (outcomes.size > MAX_OUTCOMES) outcomes.delete(outcomes.keys().next().value!);
      if (inst) {
        live.remove(inst.id);
        state.end(inst);
      }
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
