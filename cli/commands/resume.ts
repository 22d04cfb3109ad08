// drover resume WF: resume a FAILED or HALTED workflow in a new run.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { followWorkflow } from "../../client/follow.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";
import { limitLines } from "../render.ts";
import { waitAndReport } from "../wait.ts";

export const command = defineCommand({
  name: "resume",
  summary: "resume a FAILED or HALTED workflow (DONE tasks are kept)",
  usage: `Usage: drover resume WF [--reset-running] [--keep-resources] [--wait] [--json]

Resume workflow WF in a new run: its DONE tasks are kept, the others run again (attempts
back to 0, resources as of their last attempt). A task whose last attempt was killed for
its memory or runtime gets more of that resource, as a retry would (its resource_scales;
a fallback queue if it outgrows its own). Hot by default: instances still running
finish; --reset-running kills them and runs their tasks again (cold).

Options:
  --reset-running   cold resume
  --keep-resources  do not raise memory or runtime after such a kill
  --wait            follow the workflow until it ends; exit 1 if it ends FAILED or HALTED
  --json            print {"workflow_id", "run_id", "status"} (with --wait: as 'status --json')
  -h, --help        show this help

Example:
  drover resume 12 --wait
`,
  options: {
    "reset-running": { type: "boolean" },
    "keep-resources": { type: "boolean" },
    wait: { type: "boolean" },
    json: { type: "boolean" },
  },
  positionals: ["WF"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    return withBus(io, async (nc) => {
      const answer = await new Commands(nc)
        .resume({
          workflow_id: id,
          reset_running: values["reset-running"] === true,
          keep_resources: values["keep-resources"] === true,
        })
        .catch((err) => {
          throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
        });
      if (!values.wait) {
        if (json)
          writeJson(io, {
            workflow_id: answer.workflow_id,
            run_id: answer.run_id,
            status: answer.status,
          });
        else {
          io.stdout(`workflow ${answer.workflow_id} resumed (run ${answer.run_id})\n`);
          // A paused workflow resumes paused: say so, rather than leave it QUEUED unexplained.
          for (const line of limitLines(answer.workflow_id, answer.limits)) io.stdout(`${line}\n`);
        }
        return 0;
      }
      return waitAndReport(io, json, (onProgress) => followWorkflow(nc, id, { onProgress }));
    });
  },
});
