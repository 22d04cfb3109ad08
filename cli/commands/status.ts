// drover status WF: a workflow's status and its tasks counted by status.
import type { WorkflowAnswer } from "../../bus/queries.ts";
import { QueryFailed } from "../../client/query.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";
import { renderStatus, statusJson } from "../render.ts";

export const command = defineCommand({
  name: "status",
  summary: "a workflow's status and its task counts",
  usage: `Usage: drover status WF [--json]

Show workflow WF: its status and how many of its tasks are in each status.

Options:
  --json      print {"id", "name", "status", "total", "counts": {...nine statuses}}
  -h, --help  show this help

Example:
  drover status 12 --json
`,
  options: { json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, json }, io) {
    const id = parseId(positionals[0], "WF");
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
