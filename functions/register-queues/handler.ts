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
import { optionValueProblem } from "../../core/option-values.ts";
import { ensureCluster, upsertQueues } from "../../store/queues.ts";
import { defineFunction } from "../context.ts";

export const registerQueues = defineFunction({
  name: "register-queues",
  async handle(msg, ctx) {
    const { cluster, kind, queues } = msg.data;
    // Names reach job scripts and command lines: the rule every other entry point applies.
    const bad = [
      optionValueProblem("cluster", cluster),
      ...queues.map((q) => optionValueProblem("queue", q.name)),
    ].find((p) => p !== null);
    if (bad) throw new PermanentError(bad);
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
