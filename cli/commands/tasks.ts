// drover tasks WF: the tasks of a workflow, optionally of one status.
import { QueryFailed } from "../../client/query.ts";
import { meant } from "../../core/suggest.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";
import { TASK_STATUSES } from "../render.ts";

export const command = defineCommand({
  name: "tasks",
  summary: "list a workflow's tasks (optionally of one status)",
  usage: `Usage: drover tasks WF [--status S] [--json]

List the tasks of workflow WF with their status and attempts.

Options:
  --status S  only tasks in status S (${TASK_STATUSES.join(", ")})
  --json      print {"workflow", "tasks": [{"id", "name", "template", "status", "attempts"}]}
  -h, --help  show this help

Example:
  drover tasks 12 --status ERROR_FATAL
`,
  options: { status: { type: "string" }, json: { type: "boolean" } },
  positionals: ["WF"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    const status = values.status?.toUpperCase();
    if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
      throw new CliError(
        `unknown task status '${values.status}'${meant(status, TASK_STATUSES)} (one of ${TASK_STATUSES.join(", ")})`,
        2,
      );
    }
    const tasks = await withQueries(io, async (q) => {
      const all = [];
      try {
        for (let offset = 0; ; ) {
          const page = await q.tasks({
            workflow_id: id,
            ...(status ? { status } : {}),
            limit: 5000,
            offset,
          });
          all.push(...page.tasks);
          offset += page.tasks.length;
          if (page.tasks.length === 0 || offset >= page.total) return all;
        }
      } catch (err) {
        throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
      }
    });
    if (json) {
      writeJson(io, {
        workflow: id,
        tasks: tasks.map((t) => ({
          id: t.id,
          name: t.name,
          template: t.template,
          status: t.status,
          attempts: t.attempts,
        })),
      });
      return 0;
    }
    const width = Math.min(48, Math.max(4, ...tasks.map((t) => t.name.length)));
    io.stdout(`${"ID".padStart(10)}  ${"NAME".padEnd(width)}  ${"STATUS".padEnd(19)}  ATTEMPTS\n`);
    for (const t of tasks) {
      const name = t.name.length > width ? `${t.name.slice(0, width - 1)}…` : t.name.padEnd(width);
      io.stdout(`${String(t.id).padStart(10)}  ${name}  ${t.status.padEnd(19)}  ${t.attempts}\n`);
    }
    return 0;
  },
});
