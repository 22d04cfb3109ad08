import type { z } from "zod";
import { SpecError } from "../submission/errors.ts";
import { issueProblems } from "../submission/file-schema.ts";

/** Parses options with their schema; a mistake becomes a SpecError naming `label`. */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  value: unknown,
  label: string,
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new SpecError(issueProblems(parsed.error.issues, null).map((p) => `${label}: ${p}`));
}

/** Runs `fn`, prefixing the problems of a SpecError it throws with `label`. */
export function labelled<T>(label: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SpecError) {
      throw new SpecError(
        err.problems.map((p) => `${label}: ${p}`),
        { total: err.total, cause: err },
      );
    }
    throw err;
  }
}
