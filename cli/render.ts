// Text and JSON shapes the commands print (SPEC.md §2).
import type { WorkflowAnswer } from "../bus/queries.ts";
import { ENDED_WORKFLOW, TASK_STATUSES } from "../core/statuses.ts";

export { TASK_STATUSES };

/** `status --json`: exactly the documented keys, counts for all nine statuses. */
export function statusJson(view: WorkflowAnswer) {
  const counts: Record<string, number> = {};
  for (const s of TASK_STATUSES) counts[s] = Number(view.counts[s] ?? 0);
  return { id: view.id, name: view.name, status: view.status, total: view.total, counts };
}

export function renderStatus(view: WorkflowAnswer): string {
  const lines = [`workflow ${view.id} "${view.name}": ${view.status}  (${view.total} tasks)`];
  for (const s of TASK_STATUSES) {
    const n = Number(view.counts[s] ?? 0);
    if (n > 0) lines.push(`  ${s.padEnd(20)} ${String(n).padStart(9)}`);
  }
  // An ended workflow runs nothing: its limits matter again only once it is resumed.
  if (!(ENDED_WORKFLOW as readonly string[]).includes(view.status)) {
    for (const line of limitLines(view.id, view.limits)) lines.push(line);
  }
  return `${lines.join("\n")}\n`;
}

/** One line of progress, for logs and non-terminal output. */
export function progressLine(view: WorkflowAnswer): string {
  const c = view.counts;
  const active = (c.QUEUED ?? 0) + (c.INSTANTIATING ?? 0) + (c.LAUNCHED ?? 0);
  const held = limitNote(view.limits);
  return `workflow ${view.id} ${view.status}: ${c.DONE ?? 0}/${view.total} done, ${c.RUNNING ?? 0} running, ${active} queued, ${c.ERROR_FATAL ?? 0} failed${held ? ` (${held})` : ""}`;
}

type Limits = WorkflowAnswer["limits"];

/** The limits that hold a workflow back, in a few words ("paused", "limit 4"); "" when none. */
export function limitNote(limits: Limits | undefined): string {
  if (!limits) return "";
  if (limits.workflow === 0) return "paused: limit 0";
  const paused = Object.entries(limits.templates)
    .filter(([, n]) => n === 0)
    .map(([name]) => name);
  const parts = [
    limits.workflow === null ? "" : `limit ${limits.workflow}`,
    paused.length > 0 ? `template ${paused.join(", ")} paused` : "",
  ].filter(Boolean);
  return parts.join(", ");
}

/**
 * What a workflow's limits mean, one line each, with the command that changes them;
 * none when nothing is limited.
 */
export function limitLines(workflowId: number, limits: Limits | undefined): string[] {
  if (!limits) return [];
  const lines: string[] = [];
  const change = (template?: string) =>
    `'drover concurrency ${workflowId} N${template ? ` --template ${template}` : ""}'`;
  if (limits.workflow === 0) {
    lines.push(`paused: none of its tasks start (limit 0); ${change()} lets N run at once`);
  } else if (limits.workflow !== null) {
    lines.push(`limit: at most ${limits.workflow} of its tasks run at once (${change()})`);
  }
  for (const [name, n] of Object.entries(limits.templates)) {
    if (n === 0) lines.push(`template ${name} paused: none of its tasks start (${change(name)})`);
    else if (n !== null) lines.push(`template ${name}: at most ${n} run at once (${change(name)})`);
  }
  return lines;
}

/** Rows under headers, columns as wide as their widest cell; `right`: right-aligned columns. */
export function table(headers: string[], rows: string[][], right: number[] = []): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}
