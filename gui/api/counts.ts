// Status vocabularies and count shapes shared by the read models.
import { TASK_STATUSES, WORKFLOW_STATUSES } from "../../store/statuses.ts";

export { TASK_STATUSES, WORKFLOW_STATUSES };

/** Instance statuses that mean the attempt failed. */
export const ERROR_INSTANCE = [
  "ERROR",
  "RESOURCE_ERROR",
  "UNKNOWN_ERROR",
  "NO_HEARTBEAT",
  "NO_DISTRIBUTOR_ID",
  "KILL_SELF",
  "ERROR_FATAL",
] as const;

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
