import type { Sql, TransactionSql } from "postgres";
import type { QueueLimits } from "../core/scale.ts";
import type { Catalog } from "../submission/resolve.ts";

/** Clusters and their queues with limits, as registered in the database. */
/** A queue of the catalog, with its limits. */
export type QueueRow = QueueLimits;

export interface ClusterRow {
  id: number;
  name: string;
  kind: string;
  /** in id order: the first is the cluster's default queue */
  queues: QueueRow[];
}

export type ClusterCatalog = Map<string, ClusterRow>;

export async function loadCatalog(sql: Sql | TransactionSql): Promise<ClusterCatalog> {
  const rows = await sql<(QueueRow & { cluster_id: number; cluster: string; kind: string })[]>`
    select c.id as cluster_id, c.name as cluster, c.kind,
           q.id, q.name, q.max_cores, q.max_memory_bytes, q.max_runtime_seconds
    from cluster c left join queue q on q.cluster_id = c.id
    order by c.id, q.id`;
  const catalog: ClusterCatalog = new Map();
  for (const row of rows) {
    let cluster = catalog.get(row.cluster);
    if (!cluster) {
      cluster = { id: row.cluster_id, name: row.cluster, kind: row.kind, queues: [] };
      catalog.set(row.cluster, cluster);
    }
    if (row.id !== null) {
      cluster.queues.push({
        id: row.id,
        name: row.name,
        max_cores: row.max_cores,
        max_memory_bytes: row.max_memory_bytes,
        max_runtime_seconds: row.max_runtime_seconds,
      });
    }
  }
  return catalog;
}

/** The catalog as the spec validator takes it (names and limits). */
export function specCatalog(catalog: ClusterCatalog): Catalog {
  const clusters: Catalog["clusters"] = {};
  for (const [name, cluster] of catalog) {
    clusters[name] = { queues: Object.fromEntries(cluster.queues.map((q) => [q.name, q])) };
  }
  return { clusters };
}
