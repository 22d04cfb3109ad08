// What every `drover` command shares (SPEC.md §2): strict option parsing, `--help`/`-h`
// with an example, exit 2 with a message naming the problem on bad usage or failure, and
// with `--json` the failure as `{"error": "…"}` on stdout as well.

import { type ParseArgsConfig, parseArgs } from "node:util";
import { redactedMessage } from "../core/redact.ts";

/** Where a command writes and what environment it reads (tests pass their own). */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** stderr is a terminal: live progress bars and colour */
  isTTY?: boolean;
}

export function processIo(): Io {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stderr.isTTY === true && !process.env.NO_COLOR,
  };
}

export interface Command {
  name: string;
  /** One line, for `drover --help`. */
  summary: string;
  run(argv: string[], io: Io): Promise<number>;
}

/** Bad usage: exit 2, with a pointer to `--help`. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure to report as it is (no usage hint), with its exit code (default 2). */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 2,
    options?: ErrorOptions & {
      /** more fields of the `--json` error document, e.g. the workflow it is about */
      details?: Record<string, unknown>;
    },
  ) {
    super(message, options);
    this.details = options?.details;
  }
  readonly details: Record<string, unknown> | undefined;
}

type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;

const HELP = { help: { type: "boolean", short: "h" } } as const;

type Parsed<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: true }>
>;

export interface CommandSpec<O extends OptionsConfig> {
  name: string;
  summary: string;
  /** Full help text: synopsis, options, environment, and at least one example. */
  usage: string;
  options: O;
  /**
   * Names of the positional arguments, e.g. ["WF", "N"]; a trailing "?" marks optional,
   * a trailing "..." a last one that takes any number (at least one).
   */
  positionals?: string[];
  run(
    args: { values: Parsed<O>["values"]; positionals: string[]; json: boolean },
    io: Io,
  ): Promise<number>;
}

export function writeJson(io: Io, value: unknown): void {
  io.stdout(JSON.stringify(value) + "\n");
}

/** Build a command: parsing, help and error reporting around `spec.run`. */
export function defineCommand<const O extends OptionsConfig>(spec: CommandSpec<O>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    async run(argv, io) {
      // Known before parsing, so that a usage error is reported as JSON too.
      let json = argv.includes("--json");
      try {
        const { values, positionals } = parseCommandArgs(spec, argv);
        if (values["help"]) {
          io.stdout(spec.usage.trimEnd() + "\n");
          return 0;
        }
        json = values["json"] === true;
        // parseArgs checked the values against spec.options: they have the declared types.
        return await spec.run({ values: values as Parsed<O>["values"], positionals, json }, io);
      } catch (err) {
        return reportError(io, spec.name, err, json);
      }
    },
  };
}

function parseCommandArgs<O extends OptionsConfig>(
  spec: CommandSpec<O>,
  argv: string[],
): { values: Record<string, unknown>; positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...spec.options, ...HELP },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    // node:util errors name the option ("Unknown option '--x'. …"); keep the first sentence.
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(message.split(". ")[0] ?? message);
  }
  if (parsed.values["help"]) return parsed;
  const names = spec.positionals ?? [];
  const required = names.filter((n) => !n.endsWith("?"));
  const given = parsed.positionals;
  if (given.length < required.length) {
    throw new UsageError(`missing ${required.slice(given.length).join(" ")}`);
  }
  if (given.length > names.length && !names.at(-1)?.endsWith("...")) {
    throw new UsageError(`unexpected argument '${given[names.length]}'`);
  }
  return parsed;
}

/** Report a failure (stderr; stdout too with --json) and return its exit code.
 * `command` is "" for errors before a command is chosen. */
export function reportError(io: Io, command: string, err: unknown, json: boolean): number {
  // Whatever failed may quote a URL with its password (a connection error): never print it.
  const message = redactedMessage(err);
  const who = command ? `drover ${command}` : "drover";
  const hint = err instanceof UsageError ? ` (see '${who} --help')` : "";
  io.stderr(`${who}: ${message}${hint}\n`);
  if (json) writeJson(io, { error: message, ...(err instanceof CliError ? err.details : {}) });
  return err instanceof CliError ? err.exitCode : 2;
}
