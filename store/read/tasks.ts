// Tasks page: a workflow's tasks filtered by status, template and name, one page at a time.
import type { Sql } from "postgres";
import type { TASK_STATUSES } from "../../core/statuses.ts";
import { iso } from "./shared.ts";

export interface TasksFilter {
  workflow_id: number;
  status?: (typeof TASK_STATUSES)[number] | undefined;
  /** template name */
  template?: string | undefined;
  /** substring of the task name, case-insensitive */
  name?: string | undefined;
  /** an arg's value, as written (args are compared as strings, SPEC.md §1) */
  arg?: { name: string; value: string } | undefined;
  limit: number;
  offset: number;
}

export interface TaskRow {
  id: number;
  name: string;
  template: string;
  status: string;
  attempts: number;
  max_attempts: number;
  status_at: string;
}

export interface TasksPage {
  workflow: number;
  /** tasks matching the filter, all pages */
  total: number;
  limit: number;
  offset: number;
  tasks: TaskRow[];
  /** the workflow's template names, for the filter */
  templates: string[];
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The filter as one SQL condition on `task t`. */
function condition(sql: Sql, f: Omit<TasksFilter, "limit" | "offset">) {
  const where = [sql`t.workflow_id = ${f.workflow_id}`];
  // Containment (@>) rather than ->>: the value is compared as the string it is stored as.
  if (f.arg !== undefined) where.push(sql`t.args @> ${sql.json({ [f.arg.name]: f.arg.value })}`);
  if (f.status !== undefined) where.push(sql`t.status = ${f.status}`);
  if (f.name !== undefined) where.push(sql`t.name ilike ${`%${likeEscape(f.name)}%`}`);
  if (f.template !== undefined) {
    // Arrays of this workflow whose template has that name: a short list, so the task
    // filter stays an `array_id = any(…)` on the task rows.
    where.push(sql`t.array_id = any(
      select a.id from task_array a
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where a.workflow_id = ${f.workflow_id} and tt.name = ${f.template})`);
  }
  return where.reduce((a, b) => sql`${a} and ${b}`);
}

export async function listTasks(sql: Sql, f: TasksFilter): Promise<TasksPage> {
  const cond = condition(sql, f);
  const [rows, [count], templates] = await Promise.all([
    sql<(Omit<TaskRow, "status_at"> & { status_at: Date })[]>`
      select t.id, t.name, tt.name as template, t.status, t.attempts::int as attempts,
        t.max_attempts::int as max_attempts, t.status_at
      from task t
      join task_array a on a.id = t.array_id
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where ${cond}
      order by t.id
      limit ${f.limit} offset ${f.offset}`,
    sql<{ n: number }[]>`select count(*)::int as n from task t where ${cond}`,
    sql<{ name: string }[]>`
      select distinct tt.name from task_array a
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where a.workflow_id = ${f.workflow_id} order by 1`,
  ]);
  return {
    workflow: f.workflow_id,
    total: count?.n ?? 0,
    limit: f.limit,
    offset: f.offset,
    tasks: rows.map((r) => ({ ...r, status_at: iso(r.status_at)! })),
    templates: templates.map((t) => t.name),
  };
}

/** Columns of the CSV export, in order. */
export const CSV_COLUMNS = [
  "id",
  "name",
  "template",
  "status",
  "attempts",
  "max_attempts",
  "status_at",
  "args",
] as const;

/**
 * Every task matching the filter, in id order, a chunk of rows at a time (a cursor, so a
 * million-task export never sits in memory); args as JSON text.
 */
export async function* exportTasks(
  sql: Sql,
  f: Omit<TasksFilter, "limit" | "offset">,
): AsyncGenerator<Record<(typeof CSV_COLUMNS)[number], string | number>[]> {
  const cond = condition(sql, f);
  const cursor = sql<(Omit<TaskRow, "status_at"> & { status_at: Date; args: unknown })[]>`
    select t.id, t.name, tt.name as template, t.status, t.attempts::int as attempts,
      t.max_attempts::int as max_attempts, t.status_at, t.args
    from task t
    join task_array a on a.id = t.array_id
    join task_template_version v on v.id = a.task_template_version_id
    join task_template tt on tt.id = v.task_template_id
    where ${cond}
    order by t.id`.cursor(2000);
  for await (const rows of cursor) {
    yield rows.map((r) => ({ ...r, status_at: iso(r.status_at)!, args: JSON.stringify(r.args) }));
  }
}
