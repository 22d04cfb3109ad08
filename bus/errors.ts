/**
 * The error vocabulary of handlers. `PermanentError`: the message can never succeed
 * (dead-lettered, then terminated). `RetryLaterError`: try again after `delayMs`.
 * Anything else: redelivered with a backoff by delivery count, up to max_deliver.
 */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentError";
  }
}

export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RetryLaterError";
  }
}
