/**
 * register-queues — records the queues a bridge reports for its cluster (a Slurm
 * cluster's partitions), so that workflows can name them and bind checks their limits.
 *
 * Subscribes: cluster.queues.
 * Publishes: nothing.
 * Idempotency: an upsert by (cluster, queue name) that only writes changed limits; a
 *   repeated message changes nothing. A cluster that does not exist yet is created with
 *   the message's kind; one registered with another kind (e.g. `local`) is refused.
 * Side effects: cluster row (created when missing), queue rows inserted or updated.
 */
import { PermanentError } from "../../bus/errors.ts";
import { registerSchema } from "../../bus/publish.ts";
import { defineFunction } from "../../bus/runtime.ts";
import { ClusterQueues } from "../../bus/schemas.ts";
import { Subjects } from "../../bus/subjects.ts";
import { ensureCluster, upsertQueues } from "./sql.ts";

registerSchema(Subjects.clusterQueues, ClusterQueues);

export const registerQueues = defineFunction({
  name: "register-queues",
  schemas: { [Subjects.clusterQueues]: ClusterQueues },
  async handle(msg, ctx) {
    const { cluster, kind, queues } = msg.data;
    const names = new Set<string>();
    for (const q of queues) {
      if (names.has(q.name)) throw new PermanentError(`queue ${q.name} is listed twice`);
      names.add(q.name);
    }
    const changed = await ctx.sql.begin(async (tx) => {
      const row = await ensureCluster(tx, cluster, kind);
      if (row.kind !== kind) {
        throw new PermanentError(
          `cluster ${cluster} is registered as ${row.kind}, not ${kind}: its queues are not replaced`,
        );
      }
      return upsertQueues(tx, row.id, queues);
    });
    if (changed.length > 0) {
      ctx.log.info(
        {
          cluster,
          inserted: changed.filter((c) => c.inserted).map((c) => c.name),
          updated: changed.filter((c) => !c.inserted).map((c) => c.name),
        },
        "queues registered",
      );
    }
  },
});
