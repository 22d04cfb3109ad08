import type { Sql, TransactionSql } from "postgres";
import { LIVE_WORKFLOW, REPORTABLE_INSTANCE } from "../core/statuses.ts";

/** The reaper's probes, each one index-backed and capped. */

type Tx = TransactionSql | Sql;

/** One sweeper at a time across replicas: the lock ends with the sweep's transaction. */
export const REAP_LOCK_KEY = 0x64726f76_0003;

export async function trySweepLock(tx: Tx): Promise<boolean> {
  const [row] = await tx<
    { locked: boolean }[]
  >`select pg_try_advisory_xact_lock(${REAP_LOCK_KEY}) as locked`;
  return row!.locked;
}

export interface LostInstance {
  id: number;
  cluster: string;
  report_by: Date;
}

/** Live instances whose bridge has not reported within their report-by date. */
export async function lostInstances(tx: Tx, limit: number): Promise<LostInstance[]> {
  return tx<LostInstance[]>`
    select i.id, c.name as cluster, i.report_by
    from task_instance i join task t on t.id = i.task_id join cluster c on c.id = t.cluster_id
    where i.status = any(${[...REPORTABLE_INSTANCE]}::text[]) and i.report_by < now()
    order by i.report_by
    limit ${limit}`;
}

/** Batches whose launch message was never recorded as published (a crash after commit). */
export async function unpublishedBatches(
  tx: Tx,
  olderThanSeconds: number,
  limit: number,
): Promise<number[]> {
  const rows = await tx<{ id: number }[]>`
    select id from launch_batch
    where published_at is null and created_at < now() - make_interval(secs => ${olderThanSeconds})
    order by created_at limit ${limit}`;
  return rows.map((r) => r.id);
}

/** Tasks QUEUED long ago and never instantiated: their task.queued message was lost. */
export async function stuckQueued(tx: Tx, olderThanSeconds: number, limit: number) {
  return tx<{ workflow_id: number; ids: number[] }[]>`
    select workflow_id, array_agg(id order by id) as ids from (
      select id, workflow_id from task
      where status = 'QUEUED' and status_at < now() - make_interval(secs => ${olderThanSeconds})
      order by id limit ${limit}
    ) s group by workflow_id`;
}

/** Live workflows past their timeout (counted from their latest run's start), locked. */
export async function timedOutWorkflows(tx: Tx) {
  return tx<{ id: number; timeout_seconds: number }[]>`
    select w.id, w.timeout_seconds from workflow w
    where w.status = any(${[...LIVE_WORKFLOW]}::text[]) and w.timeout_seconds is not null
      and (select max(r.released_at) from workflow_run r where r.workflow_id = w.id)
          + make_interval(secs => w.timeout_seconds) < now()
    order by w.id
    for update`;
}

/** Clusters with live instances whose bridge has not heart-beaten for a while. */
export async function silentBridges(tx: Tx, olderThanSeconds: number) {
  return tx<{ name: string; heartbeat_at: Date | null; live: number }[]>`
    select c.name, c.heartbeat_at, count(*)::int as live
    from task_instance i join task t on t.id = i.task_id join cluster c on c.id = t.cluster_id
    where i.status = any(${[...REPORTABLE_INSTANCE]}::text[])
      and (c.heartbeat_at is null or c.heartbeat_at < now() - make_interval(secs => ${olderThanSeconds}))
    group by c.name, c.heartbeat_at`;
}

export async function recordBridgeHeartbeat(sql: Tx, cluster: string): Promise<void> {
  await sql`update cluster set heartbeat_at = now() where name = ${cluster}`;
}

export async function setWorkflowError(tx: Tx, id: number, error: string): Promise<void> {
  await tx`update workflow set error = ${error} where id = ${id}`;
}
