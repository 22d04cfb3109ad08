// drover dependencies TASK: the tasks a task waits for and the tasks waiting for it.
import { DEPENDENCIES_MAX, DEPENDENCIES_PAGE, type DependencyTask } from "../../bus/queries.ts";
import { QueryFailed } from "../../client/query.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";
import { table } from "../render.ts";

export const command = defineCommand({
  name: "dependencies",
  summary: "a task's direct upstream and downstream tasks",
  usage: `Usage: drover dependencies TASK [--limit N] [--offset N] [--json]

List the direct upstream tasks of task TASK (those it waits for) and its direct
downstream tasks (those waiting for it), each with id, name, template and status.

A large fan-in or fan-out is paged: each direction lists at most N tasks (ordered by
id, from --offset on) and says how many there are in all.

Options:
  --limit N   tasks listed per direction (default ${DEPENDENCIES_PAGE}, at most ${DEPENDENCIES_MAX})
  --offset N  skip the first N tasks of each direction (default 0)
  --json      print {"task", "upstream": [{"id", "name", "template", "status"}],
              "downstream": [...], "upstream_total", "downstream_total", "limit", "offset"}
  -h, --help  show this help

Example:
  drover dependencies 4711
  drover dependencies 4711 --limit 1000 --offset 1000 --json
`,
  options: {
    limit: { type: "string" },
    offset: { type: "string" },
    json: { type: "boolean" },
  },
  positionals: ["TASK"],
  async run({ values, positionals, json }, io) {
    const id = parseId(positionals[0], "TASK");
    const limit = wholeNumber(values.limit, "--limit", DEPENDENCIES_PAGE, 1, DEPENDENCIES_MAX);
    const offset = wholeNumber(values.offset, "--offset", 0, 0, Number.MAX_SAFE_INTEGER);
    const a = await withQueries(io, (q) =>
      q.dependencies({ task_id: id, limit, offset }).catch((err) => {
        throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
      }),
    );
    if (json) {
      writeJson(io, {
        task: a.task.id,
        upstream: a.upstream,
        downstream: a.downstream,
        upstream_total: a.upstream_total,
        downstream_total: a.downstream_total,
        limit: a.limit,
        offset: a.offset,
      });
      return 0;
    }
    const t = a.task;
    const out = [`task ${t.id} "${t.name}" (template ${t.template}): ${t.status}`, ""];
    out.push(...section("upstream", a.upstream, a.upstream_total, offset), "");
    out.push(...section("downstream", a.downstream, a.downstream_total, offset));
    io.stdout(`${out.join("\n")}\n`);
    return 0;
  },
});

function section(title: string, tasks: DependencyTask[], total: number, offset: number): string[] {
  if (total === 0) return [`${title}: none`];
  const shown =
    tasks.length === total
      ? `${total}`
      : `${tasks.length === 0 ? "none" : `${offset + 1}-${offset + tasks.length}`} of ${total}`;
  const lines = [`${title} (${shown}):`];
  if (tasks.length > 0) {
    const rows = tasks.map((n) => [String(n.id), n.name, n.template, n.status]);
    lines.push(...table(["ID", "NAME", "TEMPLATE", "STATUS"], rows, [0]).map((l) => `  ${l}`));
  }
  const rest = total - offset - tasks.length;
  if (rest > 0)
    lines.push(`  … and ${rest} more (--offset ${offset + tasks.length} for the next page)`);
  return lines;
}

function wholeNumber(
  raw: string | undefined,
  option: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) {
    throw new CliError(`${option} must be a whole number from ${min} to ${max}, not '${raw}'`, 2);
  }
  return n;
}
