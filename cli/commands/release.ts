// drover release WF: let a workflow submitted with --hold run (Jobmon's run() after bind()).
import { CommandRefused, Commands } from "../../client/commands.ts";
import { followWorkflow } from "../../client/follow.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withBus } from "../context.ts";
import { waitAndReport } from "../wait.ts";

export const command = defineCommand({
  name: "release",
  summary: "let a workflow submitted with --hold run",
  usage: `Usage: drover release WF [--fail-fast] [--timeout SECONDS] [--wait] [--json]

Let workflow WF, bound by 'drover submit --hold' and REGISTERING since, run: it becomes
QUEUED and its ready tasks start. A workflow released already is left as it is (exit 0).

Options:
  --fail-fast          stop scheduling new tasks once a task fails for good
  --timeout SECONDS    stop the workflow (HALTED) when it runs longer, counted from now
  --wait               follow it until it ends; exit 1 if it ends FAILED or HALTED
  --json               print {"workflow_id", "status", "released"} (with --wait: as 'status --json')
  -h, --help           show this help

Example:
  id=$(drover submit burden.yaml --hold --json | jq .id) && drover release "$id" --wait
`,
  options: {
    "fail-fast": { type: "boolean" },
    timeout: { type: "string" },
    wait: { type: "boolean" },
    json: { type: "boolean" },
  },
  positionals: ["WF"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    const timeout = values.timeout === undefined ? undefined : parseId(values.timeout, "--timeout");
    return withBus(io, async (nc) => {
      const answer = await new Commands(nc)
        .release({
          workflow_id: id,
          ...(values["fail-fast"] ? { fail_fast: true } : {}),
          ...(timeout !== undefined ? { timeout_seconds: timeout } : {}),
        })
        .catch((err) => {
          throw err instanceof CommandRefused ? new CliError(err.message, 2) : err;
        });
      if (!values.wait) {
        if (json) writeJson(io, answer);
        else
          io.stdout(
            answer.released
              ? `workflow ${id} released (${answer.status})\n`
              : `workflow ${id} is ${answer.status}: released already\n`,
          );
        return 0;
      }
      return waitAndReport(io, json, (onProgress) => followWorkflow(nc, id, { onProgress }));
    });
  },
});
