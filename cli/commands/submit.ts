// drover submit SPEC: validate and submit a spec file; with --wait, follow it to the end.
import { followWorkflow } from "../../client/follow.ts";
import { SubmitRejected, submitWorkflow } from "../../client/submit.ts";
import { SpecError } from "../../spec/errors.ts";
import { loadSpecFile } from "../../spec/load.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { withBus } from "../context.ts";
import { waitAndReport } from "../wait.ts";

export const command = defineCommand({
  name: "submit",
  summary: "validate and submit a workflow spec file (YAML or JSON)",
  usage: `Usage: drover submit SPEC [--wait] [--resume] [--reset-running] [--json]

Validate the workflow spec file SPEC (.yaml, .yml or .json) and submit it. Returns once
the workflow is bound, printing its id. Invalid input exits 2 naming the problem.

Options:
  --wait           follow the workflow until it ends; exit 1 if it ends FAILED or HALTED
  --resume         resume the workflow if this identity exists and is FAILED or HALTED
  --reset-running  with --resume: kill and rerun tasks that are still running (cold)
  --json           print {"id", "status"} (with --wait: the final status, as 'status --json')
  -h, --help       show this help

Example:
  drover submit examples/burden.yaml --wait
`,
  options: {
    wait: { type: "boolean" },
    resume: { type: "boolean" },
    "reset-running": { type: "boolean" },
    json: { type: "boolean" },
  },
  positionals: ["SPEC"],
  async run({ positionals, values, json }, io) {
    const path = positionals[0]!;
    let submission: Awaited<ReturnType<typeof loadSpecFile>>;
    try {
      submission = await loadSpecFile(path);
    } catch (err) {
      if (err instanceof SpecError)
        throw new CliError(`${path} is not a valid workflow:\n${err.message}`, 2);
      throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 2);
    }
    return withBus(io, async (nc) => {
      let bound: Awaited<ReturnType<typeof submitWorkflow>>;
      try {
        bound = await submitWorkflow(nc, submission, {
          resume: values.resume === true,
          resetRunning: values["reset-running"] === true,
        });
      } catch (err) {
        if (err instanceof SubmitRejected) throw new CliError(err.message, 2);
        throw err;
      }
      if (!values.wait || bound.outcome === "existing") {
        if (json) writeJson(io, { id: bound.workflow_id, status: bound.status });
        else if (bound.outcome === "existing") {
          io.stdout(`workflow ${bound.workflow_id} is already ${bound.status}: nothing to run\n`);
        } else
          io.stdout(
            `workflow ${bound.workflow_id} ${bound.outcome === "resumed" ? "resumed" : "submitted"} (${bound.status})\n`,
          );
        return 0;
      }
      if (!json)
        io.stderr(
          `workflow ${bound.workflow_id} ${bound.outcome === "resumed" ? "resumed" : "submitted"}\n`,
        );
      return waitAndReport(io, json, (onProgress) =>
        followWorkflow(nc, bound.workflow_id, { onProgress }),
      );
    });
  },
});
