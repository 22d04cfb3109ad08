/**
 * Topological order of tasks by Kahn's algorithm, in time linear in tasks + edges.
 * An upstream index out of range is a SpecError.
 */
import { SpecError } from "./errors.ts";
import type { Submission, TaskSpec } from "./submission.ts";

type Node = Pick<TaskSpec, "upstream">;

export type TopoResult =
  | { order: Int32Array; cycle?: undefined }
  | { order?: undefined; cycle: number[] };

/**
 * `order[p]` is the index of the task at position p. When the tasks are already in
 * topological order (every upstream index below the task's own), that order is kept;
 * otherwise ready tasks are taken first-in first-out, starting in index order.
 * On a cycle, returns the indices of the tasks on one cycle, each upstream of the next.
 */
export function topologicalOrder(tasks: readonly Node[]): TopoResult {
  const n = tasks.length;
  let sorted = true;
  for (let i = 0; i < n; i++) {
    for (const u of (tasks[i] as Node).upstream) {
      if (u >= i) {
        sorted = false;
        if (!(Number.isInteger(u) && u >= 0 && u < n)) {
          throw new SpecError(`task ${i}: upstream index ${u} is out of range (0..${n - 1})`);
        }
      }
    }
  }
  const order = new Int32Array(n);
  if (sorted) {
    for (let i = 0; i < n; i++) order[i] = i;
    return { order };
  }
  // Downstream adjacency in compressed form: downstream of u is down[start[u]..start[u+1]).
  const indegree = new Int32Array(n);
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const up = (tasks[i] as Node).upstream;
    indegree[i] = up.length;
    for (const u of up) start[u + 1]!++;
  }
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, n);
  const down = new Int32Array(start[n] as number);
  for (let i = 0; i < n; i++) {
    for (const u of (tasks[i] as Node).upstream) down[fill[u]!++] = i;
  }
  let head = 0;
  let tail = 0;
  for (let i = 0; i < n; i++) if (indegree[i] === 0) order[tail++] = i;
  while (head < tail) {
    const v = order[head++] as number;
    for (let e = start[v] as number; e < (start[v + 1] as number); e++) {
      const d = down[e] as number;
      if (--indegree[d]! === 0) order[tail++] = d;
    }
  }
  if (tail === n) return { order };
  return { cycle: extractCycle(tasks, indegree) };
}

/**
 * Tasks left with a positive in-degree each have an upstream task also left, so
 * walking upstream among them must come back to a task already seen.
 */
function extractCycle(tasks: readonly Node[], indegree: Int32Array): number[] {
  let v = indegree.findIndex((d) => d > 0);
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  while (!seenAt.has(v)) {
    seenAt.set(v, path.length);
    path.push(v);
    const next = (tasks[v] as Node).upstream.find((u) => (indegree[u] as number) > 0);
    v = next as number;
  }
  const cycle = path.slice(seenAt.get(v)).reverse();
  // Start at the lowest index, so the same cycle is always named the same way.
  let first = 0;
  for (let k = 1; k < cycle.length; k++) if (cycle[k]! < cycle[first]!) first = k;
  return [...cycle.slice(first), ...cycle.slice(0, first)];
}

/** The names of the tasks on a cycle, each upstream of the next (and the last of the first). */
export function findCycle(sub: Pick<Submission, "tasks">): string[] | null {
  const result = topologicalOrder(sub.tasks);
  if (result.cycle === undefined) return null;
  return result.cycle.map((i) => (sub.tasks[i] as TaskSpec).name);
}

export function cycleProblem(names: readonly string[]): string {
  if (names.length === 1) return `task ${JSON.stringify(names[0])} is its own upstream (a cycle)`;
  const shown = names.length > 10 ? [...names.slice(0, 10), "…"] : [...names];
  return `upstream cycle: ${[...shown, names[0]].map((n) => JSON.stringify(n)).join(" → ")}`;
}

/** The order, or a SpecError naming the tasks on a cycle. */
export function topologicalOrderOrThrow(sub: Pick<Submission, "tasks">): Int32Array {
  const result = topologicalOrder(sub.tasks);
  if (result.cycle !== undefined) {
    throw new SpecError(cycleProblem(result.cycle.map((i) => (sub.tasks[i] as TaskSpec).name)));
  }
  return result.order;
}
