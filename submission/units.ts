/**
 * Memory and runtime amounts as written in spec files (SPEC.md §1 Units).
 *
 * Memory: `512M`, `2G`, `1.5G`, `1T` — K/M/G/T, case-insensitive, optionally followed by
 * `B` or `iB`, all powers of 1024 — or a bare number of GiB. Runtime: `90s`, `10m`, `2h`,
 * `1d`, `HH:MM:SS`, `D-HH:MM:SS`, or a bare number of seconds. Results are whole bytes
 * and whole seconds, rounded up; zero or negative amounts are rejected.
 */

import { LIMITS } from "../core/limits.ts";
import { SpecError } from "./errors.ts";

const NUMBER = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?`;
const BARE = new RegExp(`^${NUMBER}$`, "i");
const MEMORY = new RegExp(`^(${NUMBER})\\s*([kmgt])(?:i?b)?$`, "i");
const RUNTIME = new RegExp(`^(${NUMBER})\\s*([smhd])$`, "i");
const CLOCK = /^(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})$/;

const MEMORY_FACTOR: Record<string, number> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};
const RUNTIME_FACTOR: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const GIB = 1024 ** 3;

const MEMORY_HINT = "use e.g. 512M, 2G, 1.5G";
const RUNTIME_HINT = "use e.g. 90s, 10m, 2h, 1d, HH:MM:SS";

/** Memory amount in bytes. Throws SpecError on a bad, zero or negative amount. */
export function parseMemory(value: string | number): number {
  let amount: number | undefined;
  if (typeof value === "number") amount = value * GIB;
  else if (typeof value === "string") {
    const text = value.trim();
    const unit = MEMORY.exec(text);
    if (unit) amount = Number(unit[1]) * (MEMORY_FACTOR[unit[2]!.toLowerCase()] ?? Number.NaN);
    else if (BARE.test(text)) amount = Number(text) * GIB;
  }
  return positiveInteger("memory", value, amount, MEMORY_HINT);
}

/** Runtime in whole seconds (rounded up). Throws SpecError on a bad, zero or negative one. */
export function parseRuntime(value: string | number): number {
  let amount: number | undefined;
  if (typeof value === "number") amount = value;
  else if (typeof value === "string") {
    const text = value.trim();
    const unit = RUNTIME.exec(text);
    const clock = CLOCK.exec(text);
    if (unit) amount = Number(unit[1]) * (RUNTIME_FACTOR[unit[2]!.toLowerCase()] ?? Number.NaN);
    else if (BARE.test(text)) amount = Number(text);
    else if (clock) {
      const [, d, h, m, s] = clock;
      if (Number(m) < 60 && Number(s) < 60) {
        amount = Number(d ?? 0) * 86400 + Number(h) * 3600 + Number(m) * 60 + Number(s);
      }
    }
  }
  const seconds = positiveInteger("runtime", value, amount, RUNTIME_HINT);
  if (seconds > LIMITS.int)
    throw new SpecError(
      `runtime ${JSON.stringify(String(value))} is too large (at most ${LIMITS.int} seconds)`,
    );
  return seconds;
}

function positiveInteger(
  what: string,
  value: unknown,
  amount: number | undefined,
  hint: string,
): number {
  const shown = JSON.stringify(String(value));
  if (amount === undefined || Number.isNaN(amount)) {
    throw new SpecError(`${what} ${shown} is not a valid amount (${hint})`);
  }
  if (amount <= 0) throw new SpecError(`${what} ${shown} must be more than zero`);
  const whole = Math.ceil(amount);
  if (!Number.isSafeInteger(whole)) throw new SpecError(`${what} ${shown} is too large`);
  return whole;
}

const MEMORY_UNITS: [string, number][] = [
  ["T", 1024 ** 4],
  ["G", 1024 ** 3],
  ["M", 1024 ** 2],
  ["K", 1024],
];

/** Bytes for display: `1.5G`, `512M`, `100B` (at most two decimals, so approximate). */
export function formatMemory(bytes: number): string {
  for (const [unit, factor] of MEMORY_UNITS) {
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(2))}${unit}`;
  }
  return `${bytes}B`;
}

/** Seconds for display: `1d2h`, `1h30m`, `1m30s`, `45s`, `0s`. */
export function formatRuntime(seconds: number): string {
  let rest = Math.max(0, Math.ceil(seconds));
  if (rest === 0) return "0s";
  let out = "";
  for (const [unit, factor] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / factor);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * factor;
  }
  return out;
}

const MIB = 1024 ** 2;

/** Requests are suggested in steps of this much memory (a quarter of a GiB). */
export const MEMORY_STEP = 256 * MIB;

/** Memory rounded up to a whole MEMORY_STEP, at least one step. */
export function roundUpMemory(bytes: number): number {
  return Math.max(MEMORY_STEP, Math.ceil(bytes / MEMORY_STEP) * MEMORY_STEP);
}

/** Runtime rounded up to a whole minute (5 minutes past an hour), at least a minute. */
export function roundUpRuntime(seconds: number): number {
  const step = seconds > 3600 ? 300 : 60;
  return Math.max(60, Math.ceil(seconds / step) * step);
}
