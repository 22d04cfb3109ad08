// Workflow page: the workflow, its latest run, progress per template (counts by status,
// one SQL aggregate, never the task rows), limits, elapsed time and rate.
import type { Sql } from "postgres";
import { ENDED_WORKFLOW } from "../../core/statuses.ts";
import { type Counts, foldCounts, iso } from "./shared.ts";

/** Tasks DONE within this window give the recent rate. */
const RATE_WINDOW_SECONDS = 300;

const ENDED: readonly string[] = ENDED_WORKFLOW;

export interface TemplateProgress {
  array_id: number;
  name: string;
  /** the template version's command, with its {arg} placeholders */
  command: string;
  total: number;
  counts: Counts;
  /** the template's concurrency limit (null: none; 0: paused) */
  limit: number | null;
}

export interface WorkflowOverview {
  id: number;
  name: string;
  status: string;
  user: string | null;
  tool: string;
  args: Record<string, unknown>;
  attributes: Record<string, unknown> | null;
  fail_fast: boolean;
  limit: number | null;
  created_at: string;
  status_at: string;
  error: string | null;
  run: {
    id: number;
    status: string;
    user: string | null;
    host: string | null;
    created_at: string;
  } | null;
  runs: number;
  total: number;
  counts: Counts;
  templates: TemplateProgress[];
  /** seconds from the latest run's start to now (or to the end, once final) */
  elapsed_seconds: number;
  rate: {
    window_seconds: number;
    /** tasks DONE within the window */
    done_in_window: number;
    /** tasks per minute over the window */
    recent_per_minute: number;
    /** tasks per minute since the run started */
    overall_per_minute: number;
    /** at the recent rate, seconds until every task is DONE (null: no recent progress) */
    eta_seconds: number | null;
  };
  server_time: string;
}

export async function workflowOverview(
  sql: Sql,
  workflowId: number,
): Promise<WorkflowOverview | undefined> {
  const [wf] = await sql<
    {
      id: number;
      name: string;
      status: string;
      user: string | null;
      tool: string;
      args: Record<string, unknown>;
      attributes: Record<string, unknown> | null;
      fail_fast: boolean;
      limit: number | null;
      created_at: Date;
      status_at: Date;
      error: string | null;
      now: Date;
      runs: number;
      run: {
        id: number;
        status: string;
        user: string | null;
        host: string | null;
        created_at: string;
      } | null;
    }[]
  >`
    select w.id, w.name, w.status, w.submitted_by as user, t.name || ' v' || tv.version as tool,
      w.args, w.attributes, w.fail_fast, w.max_concurrently_running as limit,
      w.created_at, w.status_at, w.error, now() as now,
      (select count(*)::int from workflow_run r where r.workflow_id = w.id) as runs,
      (select json_build_object('id', r.id, 'status', r.status, 'user', r.user_name,
          'host', r.host, 'created_at', r.created_at)
        from workflow_run r where r.workflow_id = w.id order by r.id desc limit 1) as run
    from workflow w
    join tool_version tv on tv.id = w.tool_version_id
    join tool t on t.id = tv.tool_id
    where w.id = ${workflowId}`;
  if (!wf) return undefined;

  const [arrays, rows] = await Promise.all([
    sql<{ array_id: number; name: string; command: string; limit: number | null }[]>`
      select a.id as array_id, tt.name, v.command_template as command,
        a.max_concurrently_running as limit
      from task_array a
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where a.workflow_id = ${workflowId}
      order by a.id`,
    sql<{ array_id: number; status: string; n: number; recent: number }[]>`
      select array_id, status, count(*)::int as n,
        count(*) filter (where status = 'DONE' and status_at > since.at)::int as recent
      from task,
        -- once per query, not per row (an expression in the filter costs ~0.7 us a row)
        (select now() - make_interval(secs => ${RATE_WINDOW_SECONDS}) as at) as since
      where workflow_id = ${workflowId}
      group by 1, 2`,
  ]);

  const byArray = new Map<number, { status: string; n: number }[]>();
  let doneInWindow = 0;
  for (const r of rows) {
    const list = byArray.get(r.array_id) ?? [];
    list.push(r);
    byArray.set(r.array_id, list);
    doneInWindow += r.recent;
  }
  const templates = arrays.map((a) => ({ ...a, ...foldCounts(byArray.get(a.array_id) ?? []) }));
  const { counts, total } = foldCounts(rows);

  const startedAt = wf.run ? new Date(wf.run.created_at) : wf.created_at;
  const endAt = ENDED.includes(wf.status) ? wf.status_at : wf.now;
  const elapsed = Math.max(0, (endAt.getTime() - startedAt.getTime()) / 1000);
  const window = Math.min(RATE_WINDOW_SECONDS, Math.max(elapsed, 1));
  const recentPerMinute = (doneInWindow / window) * 60;
  const remaining = total - counts.DONE;
  return {
    id: wf.id,
    name: wf.name,
    status: wf.status,
    user: wf.user,
    tool: wf.tool,
    args: wf.args,
    attributes: wf.attributes,
    fail_fast: wf.fail_fast,
    limit: wf.limit,
    created_at: iso(wf.created_at)!,
    status_at: iso(wf.status_at)!,
    error: wf.error,
    run: wf.run ? { ...wf.run, created_at: iso(wf.run.created_at)! } : null,
    runs: wf.runs,
    total,
    counts,
    templates,
    elapsed_seconds: Math.round(elapsed),
    rate: {
      window_seconds: RATE_WINDOW_SECONDS,
      done_in_window: doneInWindow,
      recent_per_minute: round2(recentPerMinute),
      overall_per_minute: round2(elapsed > 0 ? (counts.DONE / elapsed) * 60 : 0),
      eta_seconds:
        recentPerMinute > 0 && remaining > 0 && !ENDED.includes(wf.status)
          ? Math.round((remaining / recentPerMinute) * 60)
          : null,
    },
    server_time: iso(wf.now)!,
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function workflowExists(sql: Sql, workflowId: number): Promise<boolean> {
  const [row] = await sql`select 1 from workflow where id = ${workflowId}`;
  return row !== undefined;
}

/** The workflow a task belongs to; undefined for an unknown task. */
export async function taskWorkflow(sql: Sql, taskId: number): Promise<number | undefined> {
  const [row] = await sql<{ workflow_id: number }[]>`
    select workflow_id from task where id = ${taskId}`;
  return row?.workflow_id;
}
