// What the read models share: status counts, dates as ISO strings.
import { TASK_STATUSES } from "../../core/statuses.ts";

/** Dates leave the read models as ISO strings. */
export const iso = (d: Date | string | null): string | null =>
  d === null ? null : new Date(d).toISOString();

export type Counts = Record<(typeof TASK_STATUSES)[number], number>;

/** All nine task statuses, zeros included. */
export function zeroCounts(): Counts {
  return Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Counts;
}

/** Folds `{status, n}` rows into counts; returns the total too. */
export function foldCounts(rows: readonly { status: string; n: number }[]): {
  counts: Counts;
  total: number;
} {
  const counts = zeroCounts();
  let total = 0;
  for (const r of rows) {
    if (r.status in counts) counts[r.status as keyof Counts] += r.n;
    total += r.n;
  }
  return { counts, total };
}
