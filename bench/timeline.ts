import type { Sql } from "postgres";

/**
 * Where the time goes, from the tasks' own audit timestamps: for each step of the
 * lifecycle, how long tasks spent from entering one status to entering the next
 * (p50/p95 in ms). Each step is one function's work (plus the bus between them):
 * REGISTERING→QUEUED schedule, QUEUED→INSTANTIATING launch, INSTANTIATING→RUNNING the
 * bridge starting it (via heartbeat), RUNNING→DONE the command plus complete.
 */
export const STEPS = [
  ["QUEUED", "INSTANTIATING", "launch"],
  ["INSTANTIATING", "LAUNCHED", "bridge accepts + heartbeat"],
  ["LAUNCHED", "RUNNING", "bridge starts + heartbeat"],
  ["RUNNING", "DONE", "command + complete"],
] as const;

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 10) / 10;
}

export async function stepTimes(sql: Sql, workflowId: number) {
  const out: Record<string, { p50_ms: number | null; p95_ms: number | null }> = {};
  for (const [from, to, label] of STEPS) {
    const rows = await sql<{ ms: number }[]>`
      select extract(epoch from (b.at - a.at)) * 1000 as ms
      from (select task_id, min(at) as at from task_status_audit where workflow_id = ${workflowId} and status = ${from} group by task_id) a
      join (select task_id, min(at) as at from task_status_audit where workflow_id = ${workflowId} and status = ${to} group by task_id) b
        using (task_id)
      order by 1`;
    const ms = rows.map((r) => Number(r.ms));
    out[`${from}->${to} (${label})`] = {
      p50_ms: percentile(ms, 0.5),
      p95_ms: percentile(ms, 0.95),
    };
  }
  return out;
}
