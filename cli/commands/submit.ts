// drover submit SPEC: validate and submit a spec file; with --wait, follow it to the end.
import { followWorkflow } from "../../client/follow.ts";
import { type BoundWorkflow, SubmitRejected, submitWorkflow } from "../../client/submit.ts";
import { SpecError } from "../../submission/errors.ts";
import { loadSpecFile, parseSpec } from "../../submission/load.ts";
import { CliError, defineCommand, UsageError, writeJson } from "../args.ts";
import { withBus } from "../context.ts";
import { waitAndReport } from "../wait.ts";

export const command = defineCommand({
  name: "submit",
  summary: "validate and submit a workflow spec file (YAML or JSON)",
  usage: `Usage: drover submit SPEC [--wait] [--resume] [--reset-running] [--keep-resources]
                     [--hold] [--json]

Validate the workflow spec file SPEC (.yaml, .yml or .json; '-' reads it from standard
input, JSON or YAML, paths in it relative to this folder) and submit it. Returns once
the workflow is bound, printing its id. Invalid input exits 2 naming the problem; a
conflict with an existing workflow exits 2 too, its id in the --json error.

Options:
  --wait            follow the workflow until it ends; exit 1 if it ends FAILED or HALTED
  --resume          resume the workflow if this identity exists and is FAILED or HALTED:
                    DONE tasks are kept; the others run again with this file's commands
                    (op args may change) and more memory or runtime where their last
                    attempt was killed for it; the workflow takes this file's attributes
  --reset-running   with --resume: kill and rerun tasks that are still running (cold)
  --keep-resources  with --resume: keep resources as of the last attempt
  --hold            bind, then hold: the workflow stays REGISTERING and nothing runs
                    until 'drover release WF' (as Jobmon's bind() before run()); the
                    same workflow held already is answered as it is
  --json            print {"id", "status"}; after --resume also "changed_commands" (the
                    tasks whose command changed); with --wait: the final status, as
                    'status --json'. An error is {"error", "reason"}: reason "invalid"
                    (the spec), "conflict" (with "workflow_id"), "failed" or "timeout"
  -h, --help        show this help

Example:
  drover submit examples/burden.yaml --wait
`,
  options: {
    wait: { type: "boolean" },
    resume: { type: "boolean" },
    "reset-running": { type: "boolean" },
    "keep-resources": { type: "boolean" },
    hold: { type: "boolean" },
    json: { type: "boolean" },
  },
  positionals: ["SPEC"],
  async run({ positionals, values, json }, io) {
    const path = positionals[0]!;
    if (values.hold && values.wait) {
      throw new UsageError("--hold and --wait together would wait forever: release it first");
    }
    let submission: Awaited<ReturnType<typeof loadSpecFile>>;
    try {
      submission = path === "-" ? await loadSpecStdin() : await loadSpecFile(path);
    } catch (err) {
      // reason "invalid", as bind-dag's own rejections: a client tells bad input from
      // a stack that is down or a conflict without reading the message.
      const details = { reason: "invalid" };
      if (err instanceof SpecError)
        throw new CliError(`${path} is not a valid workflow:\n${err.message}`, 2, { details });
      throw new CliError(`cannot read ${path}: ${(err as Error).message}`, 2, { details });
    }
    return withBus(io, async (nc) => {
      let bound: Awaited<ReturnType<typeof submitWorkflow>>;
      try {
        bound = await submitWorkflow(nc, submission, {
          resume: values.resume === true,
          resetRunning: values["reset-running"] === true,
          keepResources: values["keep-resources"] === true,
          hold: values.hold === true,
        });
      } catch (err) {
        if (err instanceof SubmitRejected) {
          const details = {
            reason: err.reason,
            ...(err.workflowId !== undefined ? { workflow_id: err.workflowId } : {}),
          };
          throw new CliError(err.message, 2, { details });
        }
        throw err;
      }
      if (!values.wait || bound.outcome === "existing") {
        if (json)
          writeJson(io, {
            id: bound.workflow_id,
            status: bound.status,
            ...(bound.outcome === "resumed"
              ? {
                  changed_commands: bound.changed_commands ?? [],
                  changed_count: bound.changed_count ?? 0,
                }
              : {}),
          });
        else if (bound.outcome === "existing") {
          io.stdout(
            bound.status === "DONE"
              ? `workflow ${bound.workflow_id} is already DONE: nothing to run\n`
              : `workflow ${bound.workflow_id} is bound and held already: 'drover release ${bound.workflow_id}' runs it\n`,
          );
        } else
          io.stdout(
            `workflow ${bound.workflow_id} ${bound.outcome === "resumed" ? "resumed" : "submitted"} (${bound.status})${changedNote(bound)}\n`,
          );
        return 0;
      }
      if (!json)
        io.stderr(
          `workflow ${bound.workflow_id} ${bound.outcome === "resumed" ? "resumed" : "submitted"}${changedNote(bound)}\n`,
        );
      return waitAndReport(io, json, (onProgress) =>
        followWorkflow(nc, bound.workflow_id, { onProgress }),
      );
    });
  },
});

function changedNote(bound: BoundWorkflow): string {
  const n = bound.changed_count ?? 0;
  return n > 0 ? `; ${n} task(s) run with a changed command` : "";
}

/** A spec from standard input: JSON or YAML (YAML reads JSON too), relative to this folder. */
async function loadSpecStdin(): Promise<Awaited<ReturnType<typeof loadSpecFile>>> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return parseSpec(text, text.trimStart().startsWith("{") ? "json" : "yaml");
}
