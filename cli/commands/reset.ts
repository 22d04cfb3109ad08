// drover reset WF: Jobmon's workflow reset — tasks back to REGISTERING, ready for a resume.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";

export const command = defineCommand({
  name: "reset",
  summary: "reset a workflow's tasks to REGISTERING so that a resume runs them again",
  usage: `Usage: drover reset WF [--partial] [--json]

Reset workflow WF (DONE, FAILED or HALTED): every task goes back to REGISTERING with its
attempts at 0, and the workflow becomes HALTED. Nothing runs until you resume it
('drover resume WF', or 'drover submit SPEC --resume'), which then runs every task again.
With --partial, DONE tasks are kept and only the others are reset. A workflow that is
QUEUED or RUNNING is refused: stop it first. Resources stay as they are.

Options:
  --partial   keep DONE tasks
  --json      print {"workflow_id", "status", "reset"} (reset: tasks whose status changed)
  -h, --help  show this help

Example:
  drover reset 12 && drover resume 12 --wait
`,
  options: { partial: { type: "boolean" }, json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    const answer = await withBus(io, (nc) =>
      new Commands(nc).reset({ workflow_id: id, partial: values.partial === true }).catch((err) => {
        throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
      }),
    );
    if (json)
      writeJson(io, {
        workflow_id: answer.workflow_id,
        status: answer.status,
        reset: answer.reset,
      });
    else
      io.stdout(
        `workflow ${answer.workflow_id} is ${answer.status}: ${answer.reset} task(s) reset; run them with 'drover resume ${answer.workflow_id}'\n`,
      );
    return 0;
  },
});
