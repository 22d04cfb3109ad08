// drover workflows: the newest workflows, filtered by user, status or name.
import { QueryFailed } from "../../client/query.ts";
import { WORKFLOW_STATUSES } from "../../core/statuses.ts";
import { meant } from "../../core/suggest.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { withQueries } from "../context.ts";

export const command = defineCommand({
  name: "workflows",
  summary: "list workflows, newest first (by user, status or name)",
  usage: `Usage: drover workflows [--user U] [--status S] [--name TEXT] [--limit N] [--json]

List workflows, newest first, with how many of their tasks are done and failed and
their limit (how many tasks may run at once; 'paused' when it or a template's is 0).

Options:
  --user U     only those submitted by user U
  --status S   only those in status S (${WORKFLOW_STATUSES.join(", ")})
  --name TEXT  only those whose name contains TEXT (any case)
  --limit N    at most N (default 50, at most 1000)
  --json       print {"total", "workflows": [{"id", "name", "status", "user", "tool",
               "total", "counts", "created_at", "limit", "paused"}]}
  -h, --help   show this help

Example:
  drover workflows --user "$USER" --status FAILED
`,
  options: {
    user: { type: "string" },
    status: { type: "string" },
    name: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
  },
  positionals: [],
  async run({ values, json }, io) {
    const status = values.status?.toUpperCase();
    if (status !== undefined && !(WORKFLOW_STATUSES as readonly string[]).includes(status)) {
      throw new CliError(
        `unknown workflow status '${values.status}'${meant(status, WORKFLOW_STATUSES)} (one of ${WORKFLOW_STATUSES.join(", ")})`,
        2,
      );
    }
    const raw = values.limit ?? "50";
    const limit = Number(raw);
    if (!/^\d+$/.test(raw) || limit < 1 || limit > 1000) {
      throw new CliError(`--limit must be a whole number from 1 to 1000, not '${values.limit}'`, 2);
    }
    const answer = await withQueries(io, (q) =>
      q
        .workflows({
          ...(values.user ? { user: values.user } : {}),
          ...(status ? { status } : {}),
          ...(values.name ? { name: values.name } : {}),
          limit,
        })
        .catch((err) => {
          throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
        }),
    );
    if (json) {
      writeJson(io, answer);
      return 0;
    }
    const rows = answer.workflows;
    const width = Math.min(36, Math.max(4, ...rows.map((w) => w.name.length)));
    io.stdout(
      `${"ID".padStart(8)}  ${"NAME".padEnd(width)}  ${"STATUS".padEnd(11)}  ${"DONE".padStart(15)}  ${"FAILED".padStart(7)}  ${"LIMIT".padEnd(6)}  USER\n`,
    );
    for (const w of rows) {
      const name = w.name.length > width ? `${w.name.slice(0, width - 1)}…` : w.name.padEnd(width);
      const done = `${w.counts.DONE}/${w.total}`;
      // "paused": the workflow's limit or one of its templates' is 0.
      const limit = w.paused ? "paused" : w.limit === null ? "-" : String(w.limit);
      io.stdout(
        `${String(w.id).padStart(8)}  ${name}  ${w.status.padEnd(11)}  ${done.padStart(15)}  ${String(w.counts.ERROR_FATAL).padStart(7)}  ${limit.padEnd(6)}  ${w.user ?? "-"}\n`,
      );
    }
    if (answer.total > rows.length)
      io.stdout(`(${rows.length} of ${answer.total}; --limit for more)\n`);
    return 0;
  },
});
