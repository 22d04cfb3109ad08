// drover stop WF: stop scheduling, kill live instances, workflow HALTED.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";

export const command = defineCommand({
  name: "stop",
  summary: "stop a workflow: no new tasks, live ones killed, status HALTED",
  usage: `Usage: drover stop WF [--json]

Stop workflow WF: nothing new is scheduled, its running task instances are killed (their
tasks end ERROR_FATAL) and the workflow is HALTED. Resume it later with 'drover resume'.
Returns once the change is committed.

Options:
  --json      print {"workflow_id", "status", "killed"}
  -h, --help  show this help

Example:
  drover stop 12
`,
  options: { json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, json }, io) {
    const id = parseId(positionals[0], "WF");
    const answer = await withBus(io, (nc) =>
      new Commands(nc).stop({ workflow_id: id }).catch((err) => {
        throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
      }),
    );
    if (json)
      writeJson(io, {
        workflow_id: answer.workflow_id,
        status: answer.status,
        killed: answer.killed,
      });
    else
      io.stdout(
        `workflow ${answer.workflow_id} ${answer.status}; ${answer.killed} running instance(s) killed\n`,
      );
    return 0;
  },
});
