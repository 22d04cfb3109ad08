// drover task TASK: one task with its instances.
import type { TaskAnswer } from "../../bus/queries.ts";
import { QueryFailed } from "../../client/query.ts";
import { formatMemory } from "../../submission/units.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";

export const command = defineCommand({
  name: "task",
  summary: "one task with its instances (attempts)",
  usage: `Usage: drover task TASK [--json]

Show task TASK: its command and every instance (attempt) with exit code, resources
requested and used, log files and error. 'drover logs TASK' prints a log file's contents.

Options:
  --json      print {"id", "name", "workflow", "status", "attempts", "command", "instances": [...]}
  -h, --help  show this help

Example:
  drover task 4711 --json
`,
  options: { json: { type: "boolean" } },
  positionals: ["TASK"],
  async run({ positionals, json }, io) {
    const id = parseId(positionals[0], "TASK");
    const task = await withQueries(io, (q) =>
      q.task({ task_id: id }).catch((err) => {
        throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
      }),
    );
    if (json) {
      writeJson(io, {
        id: task.id,
        name: task.name,
        workflow: task.workflow,
        status: task.status,
        attempts: task.attempts,
        command: task.command,
        instances: task.instances.map((i) => ({
          id: i.id,
          status: i.status,
          exit_code: i.exit_code,
          distributor_id: i.distributor_id,
          memory_requested: i.memory_requested,
          memory_used: i.memory_used,
          runtime_used: i.runtime_used,
          stdout: i.stdout,
          stderr: i.stderr,
          error: i.error,
        })),
        ...(task.blocked_by ? { blocked_by: task.blocked_by } : {}),
      });
      return 0;
    }
    const out = [
      `task ${task.id} "${task.name}" of workflow ${task.workflow}: ${task.status} after ${task.attempts} attempt(s)`,
      `command: ${task.command}`,
      ...blockedLines(task),
    ];
    for (const i of task.instances) {
      const mem = `${i.memory_used === null ? "?" : formatMemory(i.memory_used)}/${i.memory_requested === null ? "?" : formatMemory(i.memory_requested)}`;
      out.push(
        `  instance ${i.id}: ${i.status} exit=${i.exit_code ?? "-"} memory=${mem} runtime=${i.runtime_used?.toFixed(1) ?? "-"}s node=${i.node ?? "-"} id=${i.distributor_id ?? "-"}`,
      );
      if (i.stdout) out.push(`    stdout: ${i.stdout}`);
      if (i.stderr) out.push(`    stderr: ${i.stderr}`);
      if (i.error) out.push(`    error: ${i.error.split("\n").join("\n           ")}`);
    }
    io.stdout(`${out.join("\n")}\n`);
    return 0;
  },
});

/** Why a REGISTERING task waits: the failed tasks upstream, and what to do about them. */
function blockedLines(task: TaskAnswer): string[] {
  const b = task.blocked_by;
  if (!b) return [];
  if (b.failed_total === 0) {
    return [`waiting for ${b.pending_upstream} upstream task(s) to be DONE`];
  }
  const names = b.failed.map((t) => `task ${t.id} "${t.name}" (${t.template}, ${t.status})`);
  const more =
    b.failed_total > b.failed.length ? `, and ${b.failed_total - b.failed.length} more` : "";
  const first = b.failed[0]!;
  return [
    `blocked by failed upstream ${b.failed_total === 1 ? "task" : "tasks"}: ${names.join(", ")}${more}`,
    `  'drover errors ${task.workflow} --task ${first.id}' shows why; 'drover resume ${task.workflow}' runs them again`,
  ];
}
