// drover: dispatch argv[0] to a command from the registry below.

import { didYouMean } from "../core/suggest.ts";
import { type Command, type Io, processIo, reportError, UsageError } from "./args.ts";

/**
 * Every command, by name. Modules load on demand so one command does not pay for the
 * imports of all the others. Adding a command: one line here, one file in commands/
 * exporting `command` (built with defineCommand).
 */
export const commands: Record<string, () => Promise<{ command: Command }>> = {
  migrate: () => import("./commands/migrate.ts"),
  status: () => import("./commands/status.ts"),
  tasks: () => import("./commands/tasks.ts"),
  task: () => import("./commands/task.ts"),
  logs: () => import("./commands/logs.ts"),
  errors: () => import("./commands/errors.ts"),
  stop: () => import("./commands/stop.ts"),
  resume: () => import("./commands/resume.ts"),
  concurrency: () => import("./commands/concurrency.ts"),
  "set-status": () => import("./commands/set-status.ts"),
  up: () => import("./commands/up.ts"),
  down: () => import("./commands/down.ts"),
  submit: () => import("./commands/submit.ts"),
  gui: () => import("./commands/gui.ts"),
  workflows: () => import("./commands/workflows.ts"),
  "task-attributes": () => import("./commands/task-attributes.ts"),
  reset: () => import("./commands/reset.ts"),
  dependencies: () => import("./commands/dependencies.ts"),
  resources: () => import("./commands/resources.ts"),
  release: () => import("./commands/release.ts"),
  wait: () => import("./commands/wait.ts"),
  admin: () => import("./commands/admin.ts"),
  bridge: () => import("./commands/bridge.ts"),
  supervisor: () => import("./commands/supervisor.ts"),
};

async function usage(): Promise<string> {
  const names = Object.keys(commands).sort();
  const loaded = await Promise.all(names.map(async (name) => (await commands[name]!()).command));
  const width = Math.max(...names.map((n) => n.length));
  const lines = loaded.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: drover COMMAND [OPTIONS]

Commands:
${lines.join("\n")}

Run 'drover COMMAND --help' for a command's options and an example.

Example:
  drover migrate
`;
}

/** Run the CLI; returns the process exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    io.stdout(await usage());
    return 0;
  }
  const json = argv.includes("--json");
  if (name === undefined || name.startsWith("-")) {
    io.stderr(await usage());
    const problem = name === undefined ? "missing command" : `unknown option '${name}'`;
    return reportError(io, "", new UsageError(problem), json);
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    const known = Object.keys(commands).sort();
    return reportError(
      io,
      "",
      new UsageError(`unknown command '${name}'${didYouMean(name, known, known.length)}`),
      json,
    );
  }
  const { command } = await load();
  return command.run(rest, io);
}
