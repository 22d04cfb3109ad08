import { constants } from "node:os";
import type { TiDone, TiError } from "../bus/schemas.ts";
import type { CommandOutcome } from "./run-command.ts";

/**
 * How a finished command is reported: `ti.done` for exit 0, otherwise one `ti.error`
 * entry whose kind tells the retry step what to do (only the resource that caused a
 * kill is scaled; `lost` is retried unchanged; `killed` was our own order).
 */

export type DoneEntry = TiDone["results"][number];
export type ErrorEntry = TiError["results"][number];
export type ResultEntry = { done: DoneEntry } | { error: ErrorEntry };

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

export function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}

/** The exit status a shell would show: the code, or 128 + the signal number. */
export function exitStatus(outcome: CommandOutcome): number {
  if (outcome.exitCode !== null) return outcome.exitCode;
  if (outcome.signal) return 128 + signalNumber(outcome.signal);
  return 1;
}

/**
 * True when the outcome is a death by signal as far as the worker can tell: the command
 * was killed by one, exited 129–255 (a shell's report of a child killed by a signal), or
 * the worker itself was signalled (Slurm stopping the job: time limit, scancel, preemption).
 */
export function diedBySignal(outcome: CommandOutcome, workerSignalled: boolean): boolean {
  if (workerSignalled || outcome.signal !== null) return true;
  return outcome.exitCode !== null && outcome.exitCode > 128;
}

export interface Limits {
  memoryBytes?: number;
  runtimeSeconds?: number;
}

export function resultOf(
  id: number,
  outcome: CommandOutcome,
  node: string,
  limits: Limits = {},
): ResultEntry {
  const usage = {
    runtime_used: outcome.runtimeSeconds,
    ...(outcome.peakMemoryBytes !== undefined
      ? { memory_used: Math.round(outcome.peakMemoryBytes) }
      : {}),
    node,
  };
  if (!outcome.stoppedFor && !outcome.spawnError && outcome.exitCode === 0) {
    return { done: { id, exit_code: 0, ...usage } };
  }
  const tail = outcome.stderrTail ? { stderr_tail: outcome.stderrTail } : {};
  const base = { id, exit_code: outcome.exitCode, ...tail, ...usage };
  switch (outcome.stoppedFor) {
    case "memory":
      return {
        error: {
          ...base,
          kind: "memory",
          message: `exceeded its memory limit of ${formatBytes(limits.memoryBytes ?? 0)} (${outcome.stopDetail ?? "over the limit"}); killed`,
        },
      };
    case "runtime":
      return {
        error: {
          ...base,
          kind: "runtime",
          message: `exceeded its runtime limit of ${limits.runtimeSeconds ?? "?"} s; killed`,
        },
      };
    case "killed":
      return {
        error: {
          ...base,
          kind: "killed",
          message: clip(`killed: ${outcome.stopDetail ?? "kill order"}`),
        },
      };
    case "lost":
      return { error: { ...base, kind: "lost", message: outcome.stopDetail ?? "bridge stopped" } };
    default:
      break;
  }
  if (outcome.spawnError) {
    return { error: { ...base, kind: "error", message: clip(outcome.spawnError) } };
  }
  if (outcome.signal) {
    return { error: { ...base, kind: "error", message: `killed by signal ${outcome.signal}` } };
  }
  return { error: { ...base, kind: "error", message: `exited with code ${outcome.exitCode}` } };
}

function clip(text: string, max = 2000): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
