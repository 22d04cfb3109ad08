/**
 * Command templates. A placeholder is `{name}` where name is an arg name (a letter or
 * `_`, then letters, digits, `_`): the value as written (Jobmon's behaviour: the user
 * owns the command). `{name:q}` inserts the value shell-quoted, one word whatever it
 * holds (`1; rm -rf ~ #` stays a harmless argument). `{{` and `}}` stand for literal
 * braces, and `${…}` is left to the shell, so `echo ${HOME}` needs no escaping. Any
 * other brace is literal text.
 */

export const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The tokens of a command template, in one regex shared by every renderer (the
 * validator's, the binder's compiled one): `{{`, `}}`, `${…}`, `{name}` and `{name:q}`
 * (group 1 the name, group 2 `:q`).
 */
export const COMMAND_TOKEN = /\{\{|\}\}|\$\{[^}]*\}|\{([A-Za-z_][A-Za-z0-9_]*)(:q)?\}/g;

/** A value as one word of POSIX sh: single-quoted, each `'` written `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** The problem with an arg name, or null when it is valid. */
export function checkArgName(name: string): string | null {
  return ARG_NAME.test(name)
    ? null
    : `arg name ${JSON.stringify(name)} is not valid (letters, digits and _, not starting with a digit)`;
}

/** The distinct placeholder names in a command, in order of first appearance. */
export function commandPlaceholders(command: string): string[] {
  const seen = new Set<string>();
  for (const m of command.matchAll(COMMAND_TOKEN)) if (m[1] !== undefined) seen.add(m[1]);
  return [...seen];
}

/**
 * The command with each placeholder replaced by its arg value. A placeholder without
 * a value is left as written (validation rejects those before this is used).
 */
export function renderCommand(command: string, args: Readonly<Record<string, string>>): string {
  return command.replace(
    COMMAND_TOKEN,
    (token: string, name: string | undefined, quoted: string | undefined) => {
      if (token === "{{") return "{";
      if (token === "}}") return "}";
      if (name === undefined || !Object.hasOwn(args, name)) return token;
      const value = args[name] as string;
      return quoted ? shellQuote(value) : value;
    },
  );
}
