// Following a workflow from the CLI: progress on stderr, the final status on stdout.
import type { WorkflowAnswer } from "../bus/queries.ts";
import { type Io, writeJson } from "./args.ts";
import { ProgressTracker, progressBar } from "./progress.ts";
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
  const tracker = new ProgressTracker();
  let last = "";
  let lastAt = 0;
  const final = await follow((view) => {
    const { rate, eta } = tracker.update(view);
    if (io.isTTY) {
      // A terminal: one line redrawn in place.
      io.stderr(`\r\u001b[2K${progressBar(view, rate, eta, true)}`);
      return;
    }
    // Not a terminal: a plain line when something changed, at most every 5 s.
    const line = progressLine(view);
    if (line !== last && Date.now() - lastAt > 5000) {
      io.stderr(`${line}\n`);
      last = line;
      lastAt = Date.now();
    }
  });
  if (io.isTTY) io.stderr("\n");
  if (json) writeJson(io, statusJson(final));
  else io.stdout(renderStatus(final) + nextStep(final));
  return exitCodeFor(final.status);
}

/** What to do after a workflow that did not finish: where to look, how to go on. */
export function nextStep(view: Pick<WorkflowAnswer, "id" | "status">): string {
  if (view.status === "FAILED")
    return `next: 'drover errors ${view.id}' shows what failed; once it is fixed, 'drover resume ${view.id}' runs the tasks not DONE\n`;
  if (view.status === "HALTED")
    return `next: 'drover resume ${view.id}' runs the tasks not DONE ('drover errors ${view.id}' shows failures)\n`;
  return "";
}
