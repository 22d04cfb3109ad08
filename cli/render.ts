// Text and JSON shapes the commands print (SPEC.md §2).
import type { WorkflowAnswer } from "../bus/queries.ts";
import { TASK_STATUSES } from "../core/statuses.ts";

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
  return `${lines.join("\n")}\n`;
}

/** One line of progress, for logs and non-terminal output. */
export function progressLine(view: WorkflowAnswer): string {
  const c = view.counts;
  const active = (c.QUEUED ?? 0) + (c.INSTANTIATING ?? 0) + (c.LAUNCHED ?? 0);
  return `workflow ${view.id} ${view.status}: ${c.DONE ?? 0}/${view.total} done, ${c.RUNNING ?? 0} running, ${active} queued, ${c.ERROR_FATAL ?? 0} failed`;
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
