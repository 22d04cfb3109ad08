// drover task-attributes add KEY=VALUE …: attributes of a task, typically added by the task
// itself while it runs (Jobmon's add_task_attributes), found by its DROVER_TASK_ID.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";

export const command = defineCommand({
  name: "task-attributes",
  summary: "add attributes to a task (from inside it: its DROVER_TASK_ID)",
  usage: `Usage: drover task-attributes add KEY=VALUE... [--task TASK] [--json]

Add attributes to a task: merged into the ones it has, a KEY it has already takes the
new VALUE. Inside a running task no --task is needed: the task's DROVER_TASK_ID names
it. Keys have no spaces and no '='; a VALUE may hold anything (quote it for the shell).

Options:
  --task TASK  the task (default: $DROVER_TASK_ID)
  --json       print {"task_id", "attributes"}: all of the task's attributes after the change
  -h, --help   show this help

Example (as the command of a task template):
  python fit.py --loc {location} && drover task-attributes add rmse=$(cat rmse.txt) converged=yes
`,
  options: { task: { type: "string" }, json: { type: "boolean" } },
  positionals: ["add", "KEY=VALUE..."],
  async run({ positionals, values, json }, io) {
    const [verb, ...pairs] = positionals;
    if (verb !== "add") throw new CliError(`unknown action '${verb}' (actions: add)`, 2);
    if (pairs.length === 0) throw new CliError("give at least one KEY=VALUE", 2);
    const taskId = parseTaskId(values.task, io.env.DROVER_TASK_ID);
    const attributes: Record<string, string> = {};
    for (const pair of pairs) {
      const at = pair.indexOf("=");
      if (at <= 0) throw new CliError(`'${pair}' is not KEY=VALUE`, 2);
      attributes[pair.slice(0, at)] = pair.slice(at + 1);
    }
    const answer = await withBus(io, (nc) =>
      new Commands(nc).addTaskAttributes({ task_id: taskId, attributes }).catch((err) => {
        throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
      }),
    );
    if (json) writeJson(io, { task_id: answer.task_id, attributes: answer.attributes });
    else {
      const shown = Object.entries(answer.attributes).map(([k, v]) => `${k}=${v}`);
      io.stdout(`task ${answer.task_id}: ${shown.join(" ")}\n`);
    }
    return 0;
  },
});

function parseTaskId(option: string | undefined, fromEnv: string | undefined): number {
  if (option !== undefined) return parseId(option, "--task");
  if (fromEnv === undefined || fromEnv === "") {
    throw new CliError("no task: give --task TASK, or run this inside a task (DROVER_TASK_ID)", 2);
  }
  return parseId(fromEnv, "DROVER_TASK_ID");
}
