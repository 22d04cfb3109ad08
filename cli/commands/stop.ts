// drover stop WF: stop scheduling, kill live instances, workflow HALTED.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";

export const command = defineCommand({
  name: "stop",
  summary: "stop a workflow: no new tasks, live ones killed, status HALTED",
  usage: `Usage: drover stop WF [--json]

Stop workflow WF: nothing new is scheduled, its running task instances are killed, and
those handed to the cluster but not started yet are withdrawn (their tasks end
ERROR_FATAL, as killed by the stop: 'drover errors' counts them apart from failures);
tasks queued but not handed out go back to waiting. The workflow is HALTED; 'drover
resume WF' runs every task not DONE again. Returns once the change is committed.

Options:
  --json      print {"workflow_id", "status", "killed", "running"}: instances killed,
              and how many of them were running (the others had not started)
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
        running: answer.running ?? answer.killed,
      });
    else io.stdout(stopped(answer.workflow_id, answer.status, answer.killed, answer.running));
    return 0;
  },
});

/** "workflow 12 stopped (HALTED): 2 running tasks killed, 16 not started withdrawn; …" */
function stopped(id: number, status: string, killed: number, running = killed): string {
  const waiting = killed - running;
  const parts = [
    running > 0 ? `${running} running task(s) killed` : "",
    waiting > 0 ? `${waiting} not started yet withdrawn` : "",
  ].filter(Boolean);
  const what = parts.length > 0 ? parts.join(", ") : "nothing was running";
  return `workflow ${id} stopped (${status}): ${what}; 'drover resume ${id}' runs every task not DONE again\n`;
}
