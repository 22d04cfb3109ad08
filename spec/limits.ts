/**
 * Upper bounds of numbers in a workflow, from the columns that store them (smallint,
 * int): a value past them is a validation error naming the field, not a failed bind.
 */
export const LIMITS = {
  /** int columns: runtimes, timeouts, concurrency limits */
  int: 2_147_483_647,
  /** smallint column; no node has more */
  cores: 32_767,
  /** attempts per task; more would retry a broken task for days */
  attempts: 1_000,
} as const;
