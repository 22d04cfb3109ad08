/**
 * Text that can be stored and run: Postgres cannot hold a NUL character in text, and its
 * jsonb refuses a lone UTF-16 surrogate (what invalid UTF-8 becomes once decoded); no
 * command line can carry a NUL either. A value with one could never bind or run, so it
 * is refused at submit, naming the field, instead of failing the bind later.
 */

/** A surrogate half without its other half. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether a string can be stored and passed on as it is (cheap for the usual text). */
export function isStorableText(value: string): boolean {
  return !value.includes("\u0000") && !LONE_SURROGATE.test(value);
}

/** The problem with a text, naming it as `what`, or null. */
export function textProblem(what: string, value: string): string | null {
  if (value.includes("\u0000")) return `${what} holds a NUL character`;
  if (LONE_SURROGATE.test(value)) return `${what} is not valid Unicode (a lone surrogate)`;
  return null;
}
