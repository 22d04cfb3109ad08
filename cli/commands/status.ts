// drover status WF: a workflow's status and its tasks counted by status.
import type { WorkflowAnswer } from "../../bus/queries.ts";
import { followWorkflow } from "../../client/follow.ts";
import { QueryFailed } from "../../client/query.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus, withQueries } from "../context.ts";
import { renderStatus, statusJson } from "../render.ts";
import { waitAndReport } from "../wait.ts";

export const command = defineCommand({
  name: "status",
  summary: "a workflow's status and its task counts",
  usage: `Usage: drover status WF [--watch] [--json]

Show workflow WF: its status and how many of its tasks are in each status.

Options:
  --watch     follow it until it ends, as 'drover wait WF': live progress, then the
              final status; exit 0 when it ends DONE, 1 when FAILED, HALTED or ABORTED
  --json      print {"id", "name", "status", "total", "counts": {...nine statuses}}
  -h, --help  show this help

Examples:
  drover status 12 --json
  drover status 12 --watch
`,
  options: { watch: { type: "boolean" }, json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    if (values.watch) {
      return withBus(io, (nc) =>
        waitAndReport(io, json, (onProgress) => followWorkflow(nc, id, { onProgress })),
      );
    }
    const view: WorkflowAnswer = await withQueries(io, (q) =>
      q.workflow({ workflow_id: id }).catch((err) => {
        throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
      }),
    );
    if (json) writeJson(io, statusJson(view));
    else io.stdout(renderStatus(view));
    return 0;
  },
});
