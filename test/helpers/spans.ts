import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** When something ran, in ms since the epoch. */
export interface Span {
  start: number;
  end: number;
}

/**
 * The most spans open at one moment, counting only from `from` on (a span that ended
 * by then does not count; one that started before counts from `from`).
 */
export function maxOverlap(spans: readonly Span[], from = Number.NEGATIVE_INFINITY): number {
  const events: [number, number][] = [];
  for (const s of spans) {
    if (s.end <= from) continue;
    events.push([Math.max(s.start, from), 1], [s.end, -1]);
  }
  // At equal times an end comes first: one task ending as the next starts is not two.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, delta] of events) {
    open += delta;
    most = Math.max(most, open);
  }
  return most;
}

/**
 * A task's command that sleeps `seconds` and writes when it started and ended (ns since
 * the epoch) to `<dir>/<its i>`, for spansIn.
 */
export function napCommand(dir: string, seconds: number): string {
  return `s=$(date +%s%N); sleep ${seconds}; echo $s $(date +%s%N) > ${dir}/{i}`;
}

/** The spans the tasks of napCommand wrote into `dir`, in ms. */
export function spansIn(dir: string): Span[] {
  return readdirSync(dir).map((f) => {
    const [start, end] = readFileSync(join(dir, f), "utf8").trim().split(" ").map(Number);
    return { start: start! / 1e6, end: end! / 1e6 };
  });
}

/**
 * Splits spans at a limit's change: `before`, those that started before it (within
 * `graceMs`, the time the change takes to reach the bridge), and `later`, those still
 * running once all of `before` had ended (at `settled`), which the new limit must hold.
 */
export function afterChange(
  spans: readonly Span[],
  changedAt: number,
  graceMs: number,
): { before: Span[]; later: Span[]; settled: number } {
  const before = spans.filter((s) => s.start < changedAt + graceMs);
  const settled = Math.max(...before.map((s) => s.end));
  return { before, later: spans.filter((s) => s.end > settled), settled };
}
