/**
 * Transactions that lost a conflict: Postgres aborts one side of a deadlock (40P01) or of
 * a serialization failure (40001) so that the other can go on, and the aborted one may
 * simply be run again (as the Postgres manual advises). Handlers on JetStream get that
 * from redelivery; a request/reply service, which must answer once, retries here.
 */
const RETRYABLE = new Set(["40P01", "40001"]);

export function isRetryableConflict(err: unknown): boolean {
  return RETRYABLE.has(String((err as { code?: unknown } | null)?.code ?? ""));
}

/** Runs `transaction` again after a conflict, up to `attempts` times, with jittered waits. */
export async function retryConflicts<T>(transaction: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (err) {
      if (attempt >= attempts || !isRetryableConflict(err)) throw err;
      // Jittered, so that the two sides of a deadlock do not meet again at once.
      await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
    }
  }
}
