/**
 * Per-template encoders of a task's COPY fields, compiled once per template: the
 * rendered command and the args as JSON, both already escaped for COPY's text format.
 * They give what renderCommand and JSON.stringify would, for a task whose args are
 * exactly its template's (DagReader has checked that before a row is written).
 */

import { copyText } from "../../store/copy.ts";
import { COMMAND_TOKEN, shellQuote } from "../../submission/command.ts";

export type RenderArgs = (args: Readonly<Record<string, string>>) => string;

/** renderCommand(command, args), COPY-escaped. */
export function compileCommand(command: string): RenderArgs {
  // literals[k] comes before slots[k]; the last literal ends the command.
  const literals: string[] = [];
  const slots: { name: string; quoted: boolean; placeholder: string }[] = [];
  let literal = "";
  let at = 0;
  for (const m of command.matchAll(COMMAND_TOKEN)) {
    literal += command.slice(at, m.index);
    at = m.index + m[0].length;
    if (m[0] === "{{") literal += "{";
    else if (m[0] === "}}") literal += "}";
    else if (m[1] === undefined) literal += m[0];
    else {
      literals.push(copyText(literal));
      slots.push({ name: m[1], quoted: m[2] !== undefined, placeholder: m[0] });
      literal = "";
    }
  }
  const last = copyText(literal + command.slice(at));
  return (args) => {
    let out = "";
    for (let k = 0; k < slots.length; k++) {
      const { name, quoted, placeholder } = slots[k]!;
      out += literals[k]!;
      if (!Object.hasOwn(args, name)) out += placeholder;
      else out += copyText(quoted ? shellQuote(args[name]!) : args[name]!);
    }
    return out + last;
  };
}

/** Strings that JSON.stringify writes as `"` + the string + `"` (and COPY leaves alone). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes control characters
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** JSON.stringify of the args (in the template's arg order), COPY-escaped. */
export function compileArgs(argNames: readonly string[]): RenderArgs {
  if (argNames.length === 0) return () => "{}";
  const prefixes = argNames.map((a, k) => copyText(`${k === 0 ? "{" : ","}${JSON.stringify(a)}:`));
  return (args) => {
    let out = "";
    for (let k = 0; k < argNames.length; k++) {
      const v = args[argNames[k]!]!;
      out += prefixes[k]!;
      out += PLAIN.test(v) ? `"${v}"` : copyText(JSON.stringify(v));
    }
    return `${out}}`;
  };
}
