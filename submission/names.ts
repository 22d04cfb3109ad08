/**
 * Names of tools, templates and tasks (SPEC.md §1 Names): non-empty, at most 255
 * characters, no `/ \ ' "`, no whitespace or other control characters, not starting
 * with a digit.
 */
import { sha256 } from "./hash.ts";

export type NameKind = "tool" | "template" | "task";

export const MAX_NAME_LENGTH = 255;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const FORBIDDEN = /[\s/\\'"\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced
const FORBIDDEN_ALL = /[\s/\\'"\u0000-\u001f\u007f]/g;
/** Half of a UTF-16 surrogate pair without its other half: not valid Unicode (nor storable). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATE_ALL = new RegExp(LONE_SURROGATE.source, "g");

/** The problem with a name, or null when it is valid. */
export function checkName(kind: NameKind, name: string): string | null {
  if (typeof name !== "string" || name.length === 0) return `${kind} name is empty`;
  const first = name.charCodeAt(0);
  const long = name.length > MAX_NAME_LENGTH && [...name].length > MAX_NAME_LENGTH;
  const bad = FORBIDDEN.exec(name) ?? LONE_SURROGATE.exec(name);
  if (!long && bad === null && !(first >= 48 && first <= 57)) return null;
  const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
  if (long) return `${kind} name ${shown} is longer than ${MAX_NAME_LENGTH} characters`;
  if (bad) {
    const what = /\s/.test(bad[0])
      ? "whitespace"
      : bad[0] < " " || bad[0] === "\u007f"
        ? "a control character"
        : bad[0] >= "\ud800" && bad[0] <= "\udfff"
          ? "a lone surrogate (not valid Unicode)"
          : `"${bad[0]}"`;
    return `${kind} name ${shown} contains ${what} (not allowed: / \\ ' " and spaces)`;
  }
  return `${kind} name ${shown} starts with a digit`;
}

/**
 * `{template}_{arg}-{value}_…` over the node_args in order, with characters not
 * allowed in names replaced by `_`; the template name when it has no node_args.
 * A name that would exceed 255 characters is cut and ends with a hash of the full
 * name, so distinct long names stay distinct.
 */
export function defaultTaskName(
  template: string,
  nodeArgs: readonly string[],
  args: Readonly<Record<string, string>>,
): string {
  let name = template;
  for (const arg of nodeArgs) name += `_${arg}-${args[arg] ?? ""}`;
  if (FORBIDDEN.test(name)) name = name.replace(FORBIDDEN_ALL, "_");
  if (LONE_SURROGATE.test(name)) name = name.replace(LONE_SURROGATE_ALL, "_");
  if (name.length > MAX_NAME_LENGTH) {
    // Cut at a UTF-16 unit, but never inside a surrogate pair: half a character is not
    // valid Unicode, and no name may hold one.
    let cut = MAX_NAME_LENGTH - 17;
    const last = name.charCodeAt(cut - 1);
    if (last >= 0xd800 && last <= 0xdbff) cut--;
    name = `${name.slice(0, cut)}_${sha256(name).slice(0, 16)}`;
  }
  return name;
}
