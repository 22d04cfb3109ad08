// drover errors WF: a workflow's failed attempts, grouped by similar message (one example
// each) so that five failed tasks read as one or two problems, not fifteen blocks.
import type { ErrorsAnswer } from "../../bus/queries.ts";
import { QueryFailed } from "../../client/query.ts";
import { CliError, defineCommand, UsageError, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";

/** Lines of an example's message shown in the grouped view (`--all` shows them all). */
const EXAMPLE_LINES = 6;

export const command = defineCommand({
  name: "errors",
  summary: "errors of a workflow's task instances, grouped by message, newest first",
  usage: `Usage: drover errors WF [--template NAME] [--task TASK] [--limit N] [--all] [--json]

Show what failed in workflow WF. Failed attempts are grouped by similar message (digits
and hex ids ignored); each group says how many attempts and tasks failed that way, when,
and shows one example with its exit code and the tail of its stderr. The group that
failed last comes first. Attempts killed by a stop, a cold resume or a workflow timeout
are not failures: they are counted on a line of their own.

Options:
  --template NAME  only the attempts of this template
  --task TASK      only the attempts of this task
  --limit N        at most N groups (default 20); with --all, N attempts (default 1000)
  --all            every failed attempt, newest first, instead of the groups
  --json           print {"errors": [{"task", "task_name", "instance", "exit_code",
                   "message", "time"}] (newest first), "total", "groups": [{"signature",
                   "kind", "template", "count", "tasks", "first_at", "last_at",
                   "example"}], "group_count", "stopped": {"attempts", "tasks"}}
  -h, --help       show this help

Examples:
  drover errors 12
  drover errors 12 --template prep --all
`,
  options: {
    template: { type: "string" },
    task: { type: "string" },
    limit: { type: "string" },
    all: { type: "boolean" },
    json: { type: "boolean" },
  },
  positionals: ["WF"],
  async run({ positionals, values, json }, io) {
    const id = parseId(positionals[0], "WF");
    const limit = values.limit === undefined ? undefined : parseLimit(values.limit);
    const all = values.all === true;
    const answer = await withQueries(io, (q) =>
      q
        .errors({
          workflow_id: id,
          ...(values.template !== undefined ? { template: values.template } : {}),
          ...(values.task !== undefined ? { task_id: parseId(values.task, "--task") } : {}),
          limit: all || json ? (limit ?? 1000) : 1,
          group_limit: all ? 1 : (limit ?? (json ? 50 : 20)),
        })
        .catch((err) => {
          throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
        }),
    );
    if (json) {
      writeJson(io, answer);
      return 0;
    }
    io.stdout(all ? renderAll(id, answer) : renderGroups(id, answer));
    return 0;
  },
});

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 5000) {
    throw new UsageError(`--limit must be a whole number from 1 to 5000, not '${value}'`);
  }
  return n;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function indent(text: string, prefix: string, maxLines = Infinity): string {
  const lines = text.split("\n");
  const shown = lines.slice(-maxLines);
  const cut =
    lines.length > shown.length
      ? [`${prefix}… (${lines.length - shown.length} more lines: --all)`]
      : [];
  return [...cut, ...shown.map((l) => `${prefix}${l}`)].join("\n");
}

function stoppedLine(id: number, a: ErrorsAnswer): string {
  const { attempts, tasks } = a.stopped;
  if (attempts === 0) return "";
  return `${plural(attempts, "attempt")} of ${plural(tasks, "task")} were killed by a stop, a cold resume or a timeout (not failures); 'drover resume ${id}' runs them again\n`;
}

function renderGroups(id: number, a: ErrorsAnswer): string {
  if (a.total === 0) {
    return `workflow ${id} has no failed attempts\n${stoppedLine(id, a)}`;
  }
  const out = [
    `workflow ${id}: ${plural(a.total, "failed attempt")} in ${plural(a.group_count, "group")}, the latest first`,
    "",
  ];
  for (const g of a.groups) {
    const e = g.example;
    out.push(
      `${plural(g.count, "attempt")} of ${plural(g.tasks, "task")} (template ${g.template}${g.kind ? `, ${g.kind} error` : ""}), last at ${g.last_at}`,
      `  e.g. task ${e.task} "${e.task_name}", instance ${e.instance}, exit ${e.exit_code ?? "-"}:`,
      indent(e.message, "    ", EXAMPLE_LINES),
      "",
    );
  }
  if (a.group_count > a.groups.length) {
    out.push(`… ${plural(a.group_count - a.groups.length, "more group")} (--limit N shows more)`);
  }
  const rest = stoppedLine(id, a);
  if (rest) out.push(rest.trimEnd());
  out.push(
    `'drover errors ${id} --all' lists every attempt; 'drover task TASK' shows a task's attempts.`,
  );
  return `${out.join("\n")}\n`;
}

function renderAll(id: number, a: ErrorsAnswer): string {
  if (a.errors.length === 0) return `workflow ${id} has no failed attempts\n${stoppedLine(id, a)}`;
  const out: string[] = [];
  for (const e of a.errors) {
    out.push(
      `${e.time}  task ${e.task} "${e.task_name}" instance ${e.instance} exit=${e.exit_code ?? "-"}`,
      indent(e.message, "  "),
    );
  }
  if (a.total > a.errors.length) out.push(`… ${a.total - a.errors.length} older (--limit N)`);
  const rest = stoppedLine(id, a);
  if (rest) out.push(rest.trimEnd());
  return `${out.join("\n")}\n`;
}
