// drover set-status TASK done|registering: mark a task by hand, like Jobmon's task update.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { meant } from "../../core/suggest.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";

export const command = defineCommand({
  name: "set-status",
  summary: "mark a task done or registering (recursively up- or downstream)",
  usage: `Usage: drover set-status TASK done|registering [--recursive] [--json]

Set a task's status by hand. 'done' marks it DONE (its downstream tasks may run);
with --recursive its upstream tasks too. 'registering' makes it run again (attempts back
to 0); with --recursive its downstream tasks too. A DONE workflow with tasks reset becomes
HALTED, so that 'drover resume' runs them; a FAILED or HALTED workflow whose tasks are
then all DONE becomes DONE. Tasks that are queued or running are refused.

Options:
  --recursive  also upstream (done) or downstream (registering) tasks
  --json       print {"task_ids": [...], "status"}
  -h, --help   show this help

Example:
  drover set-status 4711 registering --recursive
`,
  options: { recursive: { type: "boolean" }, json: { type: "boolean" } },
  positionals: ["TASK", "STATUS"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "TASK");
    const status = positionals[1]!.toLowerCase();
    if (status !== "done" && status !== "registering") {
      throw new CliError(
        `STATUS must be 'done' or 'registering', not '${positionals[1]}'${meant(status, ["done", "registering"])}`,
        2,
      );
    }
    const answer = await withBus(io, (nc) =>
      new Commands(nc)
        .setStatus({
          task_id: id,
          status: status.toUpperCase(),
          recursive: values.recursive === true,
        })
        .catch((err) => {
          throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
        }),
    );
    if (json) writeJson(io, { task_ids: answer.task_ids, status: answer.status });
    else
      io.stdout(
        `${answer.task_ids.length} task(s) now ${answer.status}; workflow ${answer.workflow_id} is ${answer.workflow_status}\n`,
      );
    return 0;
  },
});
