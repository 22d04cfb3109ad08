/**
 * What becomes of a task whose instance failed (DESIGN.md §5), as a pure function of the
 * task, how its instance failed and the queues it may use: ERROR_FATAL when its attempts
 * are used up; after a memory or runtime error, that one resource scaled (core/scale.ts)
 * and maybe a fallback queue; after any other failure (an error of the command, a lost
 * or killed instance) the same request again.
 */
import type { ErrorKind } from "../../bus/schemas.ts";
import { adjust, type QueueLimits } from "../../core/scale.ts";
import type { ClusterCatalog } from "../../store/catalog.ts";
import type { Adjustment, FailingTask } from "../../store/retry.ts";

export type Decision =
  | { action: "fatal" }
  | { action: "retry" }
  | { action: "adjust"; queue: QueueLimits; memory_bytes: number; runtime_seconds: number };

/** The queues a decision may look up: a task's own by id, its fallbacks by name. */
export interface Queues {
  byId: ReadonlyMap<number, QueueLimits>;
  /** per cluster id, by queue name */
  byName: ReadonlyMap<number, ReadonlyMap<string, QueueLimits>>;
}

export function queuesOf(catalog: ClusterCatalog): Queues {
  const byId = new Map<number, QueueLimits>();
  const byName = new Map<number, Map<string, QueueLimits>>();
  for (const cluster of catalog.values()) {
    const names = new Map<string, QueueLimits>();
    for (const q of cluster.queues) {
      byId.set(q.id, q);
      if (!names.has(q.name)) names.set(q.name, q);
    }
    byName.set(cluster.id, names);
  }
  return { byId, byName };
}

export type DecidedTask = Pick<
  FailingTask,
  | "attempts"
  | "max_attempts"
  | "cluster_id"
  | "queue_id"
  | "cores"
  | "memory_bytes"
  | "runtime_seconds"
  | "resource_scales"
  | "fallback_queues"
>;

export function decide(task: DecidedTask, kind: ErrorKind, queues: Queues): Decision {
  if (task.attempts >= task.max_attempts || kind === "unlaunchable") return { action: "fatal" };
  if (kind !== "memory" && kind !== "runtime") return { action: "retry" };
  const queue = queues.byId.get(task.queue_id);
  if (queue === undefined) throw new Error(`queue ${task.queue_id} is not in the catalog`);
  // A fallback the cluster does not know (any more) is skipped, not an error.
  const names = queues.byName.get(task.cluster_id);
  const fallbacks = (task.fallback_queues ?? [])
    .map((name) => names?.get(name))
    .filter((q): q is QueueLimits => q !== undefined);
  const next = adjust(
    {
      memory_bytes: task.memory_bytes,
      runtime_seconds: task.runtime_seconds,
      cores: task.cores,
      queue,
    },
    kind,
    task.resource_scales,
    task.attempts,
    fallbacks,
  );
  return {
    action: "adjust",
    queue: next.queue,
    memory_bytes: next.memory_bytes,
    runtime_seconds: next.runtime_seconds,
  };
}

export interface Decisions {
  fatal: number[];
  /** retried unchanged */
  again: number[];
  adjusted: Adjustment[];
}

/** Every task's decision, grouped by what applying it takes; `kindOf` has every task. */
export function decideAll(
  tasks: readonly (DecidedTask & { id: number })[],
  kindOf: ReadonlyMap<number, ErrorKind>,
  queues: Queues,
): Decisions {
  const out: Decisions = { fatal: [], again: [], adjusted: [] };
  for (const t of tasks) {
    const d = decide(t, kindOf.get(t.id)!, queues);
    if (d.action === "fatal") out.fatal.push(t.id);
    else if (d.action === "retry") out.again.push(t.id);
    else {
      out.adjusted.push({
        id: t.id,
        queue_id: d.queue.id,
        memory_bytes: d.memory_bytes,
        runtime_seconds: d.runtime_seconds,
      });
    }
  }
  return out;
}
