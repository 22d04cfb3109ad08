// drover task TASK: one task with its instances.
import { QueryFailed } from "../../client/query.ts";
import { formatMemory } from "../../spec/units.ts";
import { CliError, defineCommand, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";

export const command = defineCommand({
  name: "task",
  summary: "one task with its instances (attempts)",
  usage: `Usage: drover task TASK [--json]

Show task TASK: its command and every instance (attempt) with exit code, resources
requested and used, log files and error.

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
      });
      return 0;
    }
    const out = [
      `task ${task.id} "${task.name}" of workflow ${task.workflow}: ${task.status} after ${task.attempts} attempt(s)`,
      `command: ${task.command}`,
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
