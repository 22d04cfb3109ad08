/**
 * Errors for invalid workflow input. Every problem is one line naming the task or
 * template and the field, so a user can fix them all in one go.
 */

/** How many problems the message shows before "and N more". */
const SHOWN = 20;
/** How many problems are kept at most; beyond that only the count grows. */
export const MAX_KEPT_PROBLEMS = 1000;

export class SpecError extends Error {
  override name = "SpecError";
  /** The problems kept (at most MAX_KEPT_PROBLEMS); `total` may be larger. */
  readonly problems: string[];
  /** How many problems were found, including those not kept. */
  readonly total: number;

  constructor(problems: string | string[], options?: { total?: number; cause?: unknown }) {
    const list = typeof problems === "string" ? [problems] : problems;
    const total = Math.max(options?.total ?? list.length, list.length);
    super(
      formatProblems(list, total),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.problems = list;
    this.total = total;
  }
}

function formatProblems(list: string[], total: number): string {
  const shown = list.slice(0, SHOWN);
  const more = total - shown.length;
  if (more > 0) shown.push(`and ${more} more`);
  return shown.join("\n");
}

/**
 * Collects problems while a whole input is checked, keeping memory bounded when a
 * million tasks share one mistake.
 */
export class Problems {
  readonly list: string[] = [];
  count = 0;

  add(problem: string): void {
    this.count++;
    if (this.list.length < MAX_KEPT_PROBLEMS) this.list.push(problem);
  }

  /** Adds the problem, if there is one. */
  addIf(problem: string | null): void {
    if (problem !== null) this.add(problem);
  }

  /** Adds the problems of a SpecError, each prefixed with `label: `. */
  addError(err: SpecError, label?: string): void {
    for (const p of err.problems) this.add(label === undefined ? p : `${label}: ${p}`);
    this.count += err.total - err.problems.length;
  }

  /** Runs `fn`; a SpecError it throws becomes problems (prefixed with `label` if given). */
  try<T>(label: string | undefined, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      if (err instanceof SpecError) {
        this.addError(err, label);
        return undefined;
      }
      throw err;
    }
  }

  get empty(): boolean {
    return this.count === 0;
  }

  throwIfAny(): void {
    if (this.count > 0) throw new SpecError(this.list, { total: this.count });
  }
}
