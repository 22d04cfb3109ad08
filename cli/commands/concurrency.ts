// drover concurrency WF N: change a workflow's (or a template's) limit while it runs.
import { CommandRefused, Commands } from "../../client/commands.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";

export const command = defineCommand({
  name: "concurrency",
  summary: "change how many tasks may run at once (0 pauses)",
  usage: `Usage: drover concurrency WF N [--template NAME] [--json]

Set the number of tasks of workflow WF that may run at once; with --template, the
limit of that template's tasks. 0 pauses; 'none' lifts the limit. Takes effect at once,
also for tasks already handed to a cluster: running tasks are not stopped, and no task
starts while as many run as the limit allows (the local bridge holds the others back;
on Slurm, the throttles of the workflow's job arrays are lowered with scontrol so that
together they allow no more). Launch hands out no more tasks than the limit. 'drover
status', 'drover workflows' and 'drover resume' show an active limit or pause; a
resumed workflow keeps its limits.

Options:
  --template NAME  the limit of one template instead of the workflow's
  --json           print {"workflow_id", "template", "limit"}
  -h, --help       show this help

Example:
  drover concurrency 12 50 --template model
`,
  options: { template: { type: "string" }, json: { type: "boolean" } },
  positionals: ["WF", "N"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    const raw = positionals[1]!;
    const limit = raw === "none" ? null : Number(raw);
    if (limit !== null && (!/^\d+$/.test(raw) || !Number.isSafeInteger(limit))) {
      throw new CliError(`N must be a whole number ≥ 0 or 'none', not '${raw}'`, 2);
    }
    const answer = await withBus(io, (nc) =>
      new Commands(nc)
        .concurrency({
          workflow_id: id,
          limit,
          ...(values.template ? { template: values.template } : {}),
        })
        .catch((err) => {
          throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
        }),
    );
    if (json)
      writeJson(io, {
        workflow_id: answer.workflow_id,
        template: answer.template,
        limit: answer.limit,
      });
    else
      io.stdout(
        `workflow ${answer.workflow_id}${answer.template ? ` template ${answer.template}` : ""}: limit ${answer.limit ?? "none"}\n`,
      );
    return 0;
  },
});
