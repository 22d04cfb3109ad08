// drover errors WF: the errors of a workflow's task instances.
import { QueryFailed } from "../../client/query.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";

export const command = defineCommand({
  name: "errors",
  summary: "errors of a workflow's task instances, newest first",
  usage: `Usage: drover errors WF [--json]

List the errors of workflow WF's task instances: task, exit code and message (with the
tail of stderr).

Options:
  --json      print {"errors": [{"task", "task_name", "instance", "exit_code", "message", "time"}]}
  -h, --help  show this help

Example:
  drover errors 12
`,
  options: { json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, json }, io) {
    const id = parseId(positionals[0], "WF");
    const answer = await withQueries(io, (q) =>
      q.errors({ workflow_id: id }).catch((err) => {
        throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
      }),
    );
    if (json) {
      writeJson(io, { errors: answer.errors });
      return 0;
    }
    if (answer.errors.length === 0) io.stdout(`workflow ${id} has no errors\n`);
    for (const e of answer.errors) {
      io.stdout(
        `${e.time}  task ${e.task} "${e.task_name}" instance ${e.instance} exit=${e.exit_code ?? "-"}\n`,
      );
      io.stdout(`  ${e.message.split("\n").join("\n  ")}\n`);
    }
    return 0;
  },
});
