import { LIMITS } from "./limits.ts";

/** A queue's limits (null: none), as the catalog holds them. */
export interface QueueLimits {
  id: number;
  name: string;
  max_cores: number | null;
  max_memory_bytes: number | null;
  max_runtime_seconds: number | null;
}

/**
 * How a task's resources change after a resource error (SPEC.md §1, DESIGN.md §5): only
 * the resource that was exceeded grows, by its scale — a factor f (new = ceil(old ×
 * (1 + f)), cumulative) or a list giving the value for each retry in turn (the last
 * repeats). When the new request outgrows the task's queue it moves to the first of its
 * fallback queues that fits; when none fits, it goes to the last one, clamped to that
 * queue's limit.
 */

export type Scale = number | number[];
export interface Scales {
  memory?: Scale;
  runtime?: Scale;
}

export const DEFAULT_SCALES: Required<Scales> = { memory: 0.5, runtime: 0.5 };

/** The value for retry number `retry` (1 = the first retry). */
export function scaled(old: number, scale: Scale, retry: number): number {
  if (Array.isArray(scale)) return scale[Math.min(retry, scale.length) - 1] ?? old;
  return Math.ceil(old * (1 + scale));
}

export interface Request {
  memory_bytes: number;
  runtime_seconds: number;
  cores: number;
  queue: QueueLimits;
}

function fits(r: Omit<Request, "queue">, q: QueueLimits): boolean {
  return (
    (q.max_memory_bytes === null || r.memory_bytes <= q.max_memory_bytes) &&
    (q.max_runtime_seconds === null || r.runtime_seconds <= q.max_runtime_seconds) &&
    (q.max_cores === null || r.cores <= q.max_cores)
  );
}

export function adjust(
  current: Request,
  exceeded: "memory" | "runtime",
  scales: Scales | null,
  retry: number,
  fallbacks: QueueLimits[],
): Request {
  const s = { ...DEFAULT_SCALES, ...(scales ?? {}) };
  const next = { ...current };
  // Compounding factors must not grow past what the columns (and JS numbers) hold.
  if (exceeded === "memory") {
    next.memory_bytes = Math.min(
      scaled(current.memory_bytes, s.memory, retry),
      Number.MAX_SAFE_INTEGER,
    );
  } else {
    next.runtime_seconds = Math.min(scaled(current.runtime_seconds, s.runtime, retry), LIMITS.int);
  }
  if (fits(next, current.queue)) return next;
  const candidates = fallbacks.filter((q) => q.id !== current.queue.id);
  const better = candidates.find((q) => fits(next, q));
  if (better) return { ...next, queue: better };
  // Nothing fits: the last queue allowed, with the request clamped to its limits.
  const last = candidates.at(-1) ?? current.queue;
  return {
    ...next,
    queue: last,
    memory_bytes: Math.min(next.memory_bytes, last.max_memory_bytes ?? Infinity),
    runtime_seconds: Math.min(next.runtime_seconds, last.max_runtime_seconds ?? Infinity),
  };
}
