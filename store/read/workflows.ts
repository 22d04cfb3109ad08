// Workflows page: the list, filtered and paginated, with task counts by status per row.
import type { Sql } from "postgres";
import type { WORKFLOW_STATUSES } from "../../core/statuses.ts";
import { type Counts, foldCounts } from "./shared.ts";

export interface WorkflowsFilter {
  user?: string | undefined;
  /** substring of the name, case-insensitive */
  name?: string | undefined;
  status?: (typeof WORKFLOW_STATUSES)[number] | undefined;
  /** created at or after */
  from?: Date | undefined;
  /** created before */
  to?: Date | undefined;
  limit: number;
  offset: number;
}

export interface WorkflowRow {
  id: number;
  name: string;
  status: string;
  user: string | null;
  tool: string;
  created_at: string;
  status_at: string;
  total: number;
  counts: Counts;
  /** how many of its tasks may run at once (null: no limit; 0: paused) */
  limit: number | null;
  /** the workflow or one of its templates is paused (limit 0) */
  paused: boolean;
}

export interface WorkflowsAnswer {
  total: number;
  limit: number;
  offset: number;
  workflows: WorkflowRow[];
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function listWorkflows(sql: Sql, f: WorkflowsFilter): Promise<WorkflowsAnswer> {
  const where = [sql`true`];
  if (f.user !== undefined) where.push(sql`w.submitted_by = ${f.user}`);
  if (f.name !== undefined) where.push(sql`w.name ilike ${`%${likeEscape(f.name)}%`}`);
  if (f.status !== undefined) where.push(sql`w.status = ${f.status}`);
  if (f.from !== undefined) where.push(sql`w.created_at >= ${f.from}`);
  if (f.to !== undefined) where.push(sql`w.created_at < ${f.to}`);
  const cond = where.reduce((a, b) => sql`${a} and ${b}`);
  const [rows, [count]] = await Promise.all([
    sql<Omit<WorkflowRow, "counts" | "total">[]>`
      select w.id, w.name, w.status, w.submitted_by as user,
        t.name || ' v' || tv.version as tool, w.created_at, w.status_at,
        w.max_concurrently_running as limit,
        w.max_concurrently_running = 0 or exists (
          select 1 from task_array a where a.workflow_id = w.id and a.max_concurrently_running = 0
        ) as paused
      from workflow w
      join tool_version tv on tv.id = w.tool_version_id
      join tool t on t.id = tv.tool_id
      where ${cond}
      order by w.id desc
      limit ${f.limit} offset ${f.offset}`,
    sql<{ n: number }[]>`select count(*)::int as n from workflow w where ${cond}`,
  ]);
  const ids = rows.map((r) => r.id);
  // One aggregate for the page: an index-only scan of (workflow_id, status) per workflow.
  const countRows =
    ids.length === 0
      ? []
      : await sql<{ workflow_id: number; status: string; n: number }[]>`
          select workflow_id, status, count(*)::int as n from task
          where workflow_id = any(${ids}::bigint[]) group by 1, 2`;
  const byWorkflow = new Map<number, { status: string; n: number }[]>();
  for (const r of countRows) {
    const list = byWorkflow.get(r.workflow_id) ?? [];
    list.push(r);
    byWorkflow.set(r.workflow_id, list);
  }
  return {
    total: count?.n ?? 0,
    limit: f.limit,
    offset: f.offset,
    workflows: rows.map((r) => {
      const { counts, total } = foldCounts(byWorkflow.get(r.id) ?? []);
      return {
        ...r,
        created_at: new Date(r.created_at).toISOString(),
        status_at: new Date(r.status_at).toISOString(),
        total,
        counts,
      };
    }),
  };
}

/** Every submitting user (the first 200), for the GUI's filter. */
export async function workflowUsers(sql: Sql): Promise<string[]> {
  const rows = await sql<{ user: string }[]>`
    select distinct submitted_by as user from workflow
    where submitted_by is not null order by 1 limit 200`;
  return rows.map((u) => u.user);
}
