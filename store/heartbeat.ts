import type { Sql, TransactionSql } from "postgres";
import type { TiLaunched, TiRunning } from "../bus/schemas.ts";
import { REPORTABLE_INSTANCE } from "../core/statuses.ts";

/**
 * The statements of instance progress reports, each small and named for what it does.
 * Statuses go in as array parameters (see store/task-transition.ts for why).
 */

type Tx = TransactionSql | Sql;

export interface MovedInstance {
  id: number;
  task_id: number;
  workflow_id: number;
}

/** Instances moved by a transition, and the tasks that followed them (id order each). */
export interface Moved {
  instances: MovedInstance[];
  tasks: { id: number; workflow_id: number }[];
}

interface MovedRow {
  kind: "instance" | "task";
  id: number;
  task_id: number | null;
  workflow_id: number;
}

function split(rows: readonly MovedRow[]): Moved {
  const instances: MovedInstance[] = [];
  const tasks: { id: number; workflow_id: number }[] = [];
  for (const r of rows) {
    if (r.kind === "instance")
      instances.push({ id: r.id, task_id: r.task_id!, workflow_id: r.workflow_id });
    else tasks.push({ id: r.id, workflow_id: r.workflow_id });
  }
  instances.sort((a, b) => a.id - b.id);
  tasks.sort((a, b) => a.id - b.id);
  return { instances, tasks };
}

/**
 * The end of an instance transition (a `moved` CTE of instance rows before it): audits
 * the instances' new status, moves their tasks that are in one of `from` to the same
 * status, audits those, and selects both as MovedRows for split().
 */
function taskFollows(tx: Tx, status: "LAUNCHED" | "RUNNING", from: readonly string[]) {
  return tx`, audit as (
      insert into task_instance_status_audit (task_instance_id, status)
      select id, ${status} from moved
    ), tasks as (
      update task set status = ${status}, status_at = now()
      where id in (select task_id from moved) and status = any(${from}::text[])
      returning id, workflow_id
    ), task_audit as (
      insert into task_status_audit (task_id, workflow_id, status)
      select id, workflow_id, ${status} from tasks
    )
    select 'instance' as kind, id, task_id, workflow_id from moved
    union all
    select 'task' as kind, id, null, workflow_id from tasks`;
}

type LaunchedEntry = TiLaunched["instances"][number];
type RunningEntry = TiRunning["instances"][number];

/**
 * INSTANTIATED → LAUNCHED with the distributor id, output paths and a new report-by
 * date, audited. Guarded: instances that moved on (RUNNING, DONE, …) are skipped.
 */
export async function launchInstances(
  tx: Tx,
  entries: readonly LaunchedEntry[],
  reportBySeconds: number,
): Promise<Moved> {
  if (entries.length === 0) return { instances: [], tasks: [] };
  const rows = await tx<MovedRow[]>`
    with d as (
      select * from unnest(${entries.map((e) => e.id)}::bigint[],
        ${entries.map((e) => e.distributor_id)}::text[],
        ${entries.map((e) => e.stdout ?? null)}::text[],
        ${entries.map((e) => e.stderr ?? null)}::text[]) as d (id, distributor_id, stdout, stderr)
    ), moved as (
      update task_instance ti set status = 'LAUNCHED', status_at = now(),
        distributor_id = d.distributor_id,
        stdout_path = coalesce(d.stdout, ti.stdout_path),
        stderr_path = coalesce(d.stderr, ti.stderr_path),
        report_by = now() + make_interval(secs => ${reportBySeconds})
      from d
      where ti.id = d.id and ti.status = any(${["INSTANTIATED"]}::text[])
      returning ti.id, ti.task_id, ti.workflow_id
    )
    ${taskFollows(tx, "LAUNCHED", ["INSTANTIATING"])}`;
  return split(rows);
}

/**
 * A launch report that came after the instance moved on (its running report or result
 * overtook it: they travel on other streams): keeps the distributor id and output paths
 * where none are recorded yet. Not a transition: no status change, no audit.
 */
export async function recordLaunchDetails(
  tx: Tx,
  entries: readonly LaunchedEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await tx`
    update task_instance ti set
      distributor_id = coalesce(ti.distributor_id, d.distributor_id),
      stdout_path = coalesce(ti.stdout_path, d.stdout),
      stderr_path = coalesce(ti.stderr_path, d.stderr)
    from unnest(${entries.map((e) => e.id)}::bigint[],
      ${entries.map((e) => e.distributor_id)}::text[],
      ${entries.map((e) => e.stdout ?? null)}::text[],
      ${entries.map((e) => e.stderr ?? null)}::text[]) as d (id, distributor_id, stdout, stderr)
    where ti.id = d.id and ti.status <> 'INSTANTIATED'
      and (ti.distributor_id is null or (ti.stdout_path is null and d.stdout is not null)
        or (ti.stderr_path is null and d.stderr is not null))`;
}

/** INSTANTIATED/LAUNCHED → RUNNING with the node and a new report-by date, audited. */
export async function runInstances(
  tx: Tx,
  entries: readonly RunningEntry[],
  reportBySeconds: number,
): Promise<Moved> {
  if (entries.length === 0) return { instances: [], tasks: [] };
  const rows = await tx<MovedRow[]>`
    with d as (
      select * from unnest(${entries.map((e) => e.id)}::bigint[],
        ${entries.map((e) => e.node ?? null)}::text[],
        ${entries.map((e) => e.distributor_id ?? null)}::text[]) as d (id, node, distributor_id)
    ), moved as (
      update task_instance ti set status = 'RUNNING', status_at = now(),
        node = coalesce(d.node, ti.node),
        distributor_id = coalesce(ti.distributor_id, d.distributor_id),
        report_by = now() + make_interval(secs => ${reportBySeconds})
      from d
      where ti.id = d.id and ti.status = any(${["INSTANTIATED", "LAUNCHED"]}::text[])
      returning ti.id, ti.task_id, ti.workflow_id
    )
    ${taskFollows(tx, "RUNNING", ["INSTANTIATING", "LAUNCHED"])}`;
  return split(rows);
}

/**
 * A running report that came after the instance moved on (its result overtook it): keeps
 * the node and distributor id where none are recorded. Not a transition (no audit).
 */
export async function recordRunningDetails(
  tx: Tx,
  entries: readonly RunningEntry[],
): Promise<void> {
  const known = entries.filter((e) => e.node !== undefined || e.distributor_id !== undefined);
  if (known.length === 0) return;
  await tx`
    update task_instance ti set
      node = coalesce(ti.node, d.node),
      distributor_id = coalesce(ti.distributor_id, d.distributor_id)
    from unnest(${known.map((e) => e.id)}::bigint[], ${known.map((e) => e.node ?? null)}::text[],
      ${known.map((e) => e.distributor_id ?? null)}::text[]) as d (id, node, distributor_id)
    where ti.id = d.id and ti.status not in ('INSTANTIATED', 'LAUNCHED')
      and ((ti.node is null and d.node is not null)
        or (ti.distributor_id is null and d.distributor_id is not null))`;
}

/** Live instances: report-by pushed forward. Not a transition (no audit). */
export async function extendReportBy(
  tx: Tx,
  ids: readonly number[],
  reportBySeconds: number,
): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await tx`
    update task_instance set report_by = now() + make_interval(secs => ${reportBySeconds})
    where id = any(${[...ids]}::bigint[]) and status = any(${[...REPORTABLE_INSTANCE]}::text[])`;
  return rows.count;
}
