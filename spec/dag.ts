/**
 * The DAG wire format (DAG_FORMAT.md): NDJSON, all templates, then all tasks in
 * topological order with upstream given as the positions of earlier tasks. dagLines
 * writes it; DagReader checks it line by line while the binder streams it.
 */
import { sortedUnique } from "./build.ts";
import type { TaskLine } from "./dag-schema.ts";
import type { Submission, TaskSpec } from "./submission.ts";
import { topologicalOrderOrThrow } from "./topo.ts";

export { DagReader, type DagReaderOptions, type DagSummary } from "./dag-reader.ts";
export {
  type DagLine,
  DagLineSchema,
  type TaskLine,
  TaskLineSchema,
  type TemplateLine,
  TemplateLineSchema,
} from "./dag-schema.ts";

/**
 * The lines of the DAG (JSON text, without the trailing newline), tasks reordered
 * topologically. Throws SpecError naming the tasks on a cycle before yielding anything.
 */
export function* dagLines(sub: Submission): Generator<string> {
  const order = topologicalOrderOrThrow(sub);
  const position = new Int32Array(order.length);
  for (let p = 0; p < order.length; p++) position[order[p]!] = p;
  for (const t of sub.templates) yield JSON.stringify({ kind: "template", ...t });
  for (let p = 0; p < order.length; p++) {
    const task = sub.tasks[order[p]!] as TaskSpec;
    const upstream = sortedUnique(task.upstream.map((u) => position[u]!));
    // Fields listed one by one (not spread): one object shape, canonical key order.
    yield JSON.stringify({
      kind: "task",
      i: p,
      template: task.template,
      name: task.name,
      args: task.args,
      upstream,
      max_attempts: task.max_attempts,
      resources: task.resources,
      cluster: task.cluster,
      attributes: task.attributes,
    } satisfies Record<keyof TaskLine, unknown>);
  }
}

export interface DagCounts {
  templates: number;
  tasks: number;
  /** Distinct (upstream, downstream) pairs. */
  edges: number;
}

export function dagCounts(sub: Submission): DagCounts {
  let edges = 0;
  for (const t of sub.tasks) {
    edges += t.upstream.length > 1 ? new Set(t.upstream).size : t.upstream.length;
  }
  return { templates: sub.templates.length, tasks: sub.tasks.length, edges };
}
