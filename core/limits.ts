/**
 * Upper bounds of numbers in a workflow, from the columns that store them (smallint,
 * int, bigint): a value past them is a validation error naming the field, not a failed
 * bind.
 */
export const LIMITS = {
  /** int columns: runtimes (seconds), timeouts, concurrency limits */
  int: 2_147_483_647,
  /**
   * bigint columns holding bytes (memory). The column holds up to 2^63 − 1, but amounts
   * travel as JSON and JS numbers, exact only up to 2^53 − 1 (8 PiB): the bound here.
   */
  bytes: Number.MAX_SAFE_INTEGER,
  /** smallint column; no node has more */
  cores: 32_767,
  /** attempts per task; more would retry a broken task for days */
  attempts: 1_000,
} as const;

/**
 * Caps on what one submission or one person may take of the shared services, so that
 * no one fills JetStream's disk, Postgres or a function's memory for everyone. Those a
 * site may want to tune are settings (core/config.ts); these are their defaults. The
 * others are fixed by what carries the value.
 */
export const CAPS = {
  /**
   * A command as run, in bytes (its template with every value inserted). A local or
   * Slurm command is one argument of `sh -c`, and Linux refuses a single argument of
   * 128 KiB or more (MAX_ARG_STRLEN); it must also fit a launch batch message.
   */
  commandBytes: 128 * 1024 - 1,
  /** One arg value, in bytes (values are stored with the task and inserted into commands). */
  argValueBytes: 64 * 1024,
  /**
   * One line of a DAG object, in bytes: a template or a task with its args and settings.
   * A line is held whole while it is parsed; past this it is refused, not buffered.
   */
  dagLineBytes: 4 * 1024 * 1024,
  /** Tasks in one workflow (setting `maxTasks`). */
  tasksPerWorkflow: 10_000_000,
  /**
   * A DAG object once decompressed, in bytes (setting `dagMaxBytes`): a gzip bomb stops
   * here. 10 million tasks of ~200 bytes fit.
   */
  dagBytes: 4 * 1024 ** 3,
  /** Each shared JetStream stream, in bytes (setting `streamMaxBytes`). */
  streamBytes: 1024 ** 3,
  /**
   * Each person's launch and kill streams and their DAG bucket, in bytes (setting
   * `personMaxBytes`): one person's uploads and batches cannot take the disk of all.
   */
  personBytes: 1024 ** 3,
  /** Live-update (SSE) connections the GUI holds open at once (setting `guiMaxStreams`). */
  guiStreams: 200,
  /**
   * Workflows one person may have not yet ended (REGISTERING, QUEUED, RUNNING) (setting
   * `maxActiveWorkflows`): a flood of submissions is refused past it.
   */
  activeWorkflowsPerPerson: 1000,
} as const;

/** Whether a string takes more than `cap` bytes as UTF-8 (measured only when near the cap). */
export function exceedsBytes(value: string, cap: number): boolean {
  // UTF-8 takes 1 to 3 bytes per UTF-16 unit.
  if (value.length > cap) return true;
  if (value.length * 3 <= cap) return false;
  return Buffer.byteLength(value, "utf8") > cap;
}

/** A byte count as people read it: 131071 bytes, 64 KiB, 4 GiB. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 1024 ** 3],
    ["MiB", 1024 ** 2],
    ["KiB", 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
