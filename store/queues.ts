import type { Sql, TransactionSql } from "postgres";
import type { QueueLimits } from "../bus/schemas.ts";

type Tx = TransactionSql | Sql;

/** The cluster's row, created with `kind` when it does not exist yet. */
export async function ensureCluster(
  tx: Tx,
  name: string,
  kind: string,
): Promise<{ id: number; kind: string }> {
  await tx`insert into cluster (name, kind) values (${name}, ${kind}) on conflict (name) do nothing`;
  const [row] = await tx<{ id: number; kind: string }[]>`
    select id, kind from cluster where name = ${name}`;
  if (!row) throw new Error(`cluster ${name} vanished`);
  return row;
}

/**
 * Inserts new queues (in the order given: the first queue a cluster ever registers gets
 * the lowest id, which makes it the cluster's default queue) and updates the limits of
 * known ones. Rows whose limits did not change are not touched. Queues no longer listed
 * are kept: tasks refer to them. Returns the queues inserted or changed.
 */
export async function upsertQueues(
  tx: Tx,
  clusterId: number,
  queues: readonly QueueLimits[],
): Promise<{ name: string; inserted: boolean }[]> {
  return tx<{ name: string; inserted: boolean }[]>`
    insert into queue (cluster_id, name, max_cores, max_memory_bytes, max_runtime_seconds)
    select ${clusterId}, q.name, q.max_cores, q.max_memory_bytes, q.max_runtime_seconds
    from unnest(${queues.map((q) => q.name)}::text[],
      ${queues.map((q) => q.max_cores)}::int[],
      ${queues.map((q) => q.max_memory_bytes)}::bigint[],
      ${queues.map((q) => q.max_runtime_seconds)}::int[])
      with ordinality as q (name, max_cores, max_memory_bytes, max_runtime_seconds, ord)
    order by q.ord
    on conflict (cluster_id, name) do update set
      max_cores = excluded.max_cores,
      max_memory_bytes = excluded.max_memory_bytes,
      max_runtime_seconds = excluded.max_runtime_seconds
    where (queue.max_cores, queue.max_memory_bytes, queue.max_runtime_seconds)
      is distinct from (excluded.max_cores, excluded.max_memory_bytes, excluded.max_runtime_seconds)
    returning name, (xmax = 0) as inserted`;
}
