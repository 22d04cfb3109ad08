import { createHash } from "node:crypto";

/**
 * Digests for message ids (the rules themselves are with their subjects, in
 * bus/contracts.ts). JetStream dedupes by id within its window (2 minutes by default),
 * so an id must repeat for a redelivery of the work that published it and never for
 * new work.
 */

/** Hex sha256 of a text, cut to `length` characters. */
export function shortDigest(text: string, length: number): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/** 16 hex characters over a list of ids (sched.wake, task.queued, reaped ti.error). */
export const idsDigest16 = (ids: readonly number[]) => shortDigest(ids.join(","), 16);

/** 24 hex characters over a list of instance ids (the reports of bridges and workers). */
export const idsDigest24 = (ids: readonly number[]) => shortDigest(ids.join(","), 24);
