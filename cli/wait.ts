// Following a workflow from the CLI: progress on stderr, the final status on stdout.
import type { WorkflowAnswer } from "../bus/queries.ts";
import { type Io, writeJson } from "./args.ts";
import { progressLine, renderStatus, statusJson } from "./render.ts";

/** Exit code of a waited-for workflow (SPEC.md §2): 0 DONE, 1 otherwise. */
export function exitCodeFor(status: string): number {
  return status === "DONE" ? 0 : 1;
}

export async function waitAndReport(
  io: Io,
  json: boolean,
  follow: (onProgress: (view: WorkflowAnswer) => void) => Promise<WorkflowAnswer>,
): Promise<number> {
  let last = "";
  let lastAt = 0;
  const final = await follow((view) => {
    const line = progressLine(view);
    // Not a terminal: a plain line when something changed, at most every 2 s.
    if (line !== last && Date.now() - lastAt > 2000) {
      io.stderr(`${line}\n`);
      last = line;
      lastAt = Date.now();
    }
  });
  if (json) writeJson(io, statusJson(final));
  else io.stdout(renderStatus(final));
  return exitCodeFor(final.status);
}
