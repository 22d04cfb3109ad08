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
  let identity = true;
  for (let p = 0; p < order.length; p++) {
    if (order[p] !== p) {
      identity = false;
      break;
    }
  }
  let position: Int32Array | null = null;
  if (!identity) {
    position = new Int32Array(order.length);
    for (let p = 0; p < order.length; p++) position[order[p]!] = p;
  }
  for (const t of sub.templates) yield JSON.stringify({ kind: "template", ...t });
  for (let p = 0; p < order.length; p++) {
    const task = sub.tasks[order[p]!] as TaskSpec;
    yield taskLine(task, p, position);
  }
}

/** Strings that JSON.stringify writes as `"` + the string + `"`. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes control characters
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

function quote(v: string): string {
  return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
}

/**
 * One task line: the text JSON.stringify writes for the fields in canonical order
 * (DAG_FORMAT.md), built by hand for the common shape (a million calls of
 * JSON.stringify on a fresh object cost about twice as much), by JSON.stringify otherwise.
 */
function taskLine(task: TaskSpec, p: number, position: Int32Array | null): string {
  let upstream = "";
  const up = task.upstream;
  let last = -1;
  for (let k = 0; k < up.length; k++) {
    const u = position ? position[up[k]!]! : up[k]!;
    if (!(u > last)) return canonicalLine(task, p, position); // not sorted or repeated
    upstream += k === 0 ? `${u}` : `,${u}`;
    last = u;
  }
  const args = argsJson(task.args);
  const { template, name } = task;
  if (typeof template !== "string" || typeof name !== "string" || args === null) {
    return canonicalLine(task, p, position);
  }
  let line = `{"kind":"task","i":${p},"template":${quote(template)},"name":${quote(name)},"args":${args},"upstream":[${upstream}]`;
  if (
    task.max_attempts !== undefined ||
    task.resources !== undefined ||
    task.cluster !== undefined ||
    task.attributes !== undefined ||
    task.resource_scales !== undefined ||
    task.fallback_queues !== undefined ||
    task.working_dir !== undefined ||
    task.env !== undefined
  ) {
    // The optional fields, as JSON.stringify writes them (it leaves out undefined ones).
    const rest = JSON.stringify({
      max_attempts: task.max_attempts,
      resources: task.resources,
      cluster: task.cluster,
      attributes: task.attributes,
      resource_scales: task.resource_scales,
      fallback_queues: task.fallback_queues,
      working_dir: task.working_dir,
      env: task.env,
    });
    if (rest.length > 2) line += `,${rest.slice(1, -1)}`;
  }
  return `${line}}`;
}

/** JSON of an args object whose own values are all strings; null for anything else. */
function argsJson(args: Readonly<Record<string, string>>): string | null {
  if (
    typeof args !== "object" ||
    args === null ||
    Object.getPrototypeOf(args) !== Object.prototype
  ) {
    return null;
  }
  let out = "{";
  const keys = Object.keys(args);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const v = args[key];
    if (typeof v !== "string") return null;
    out += `${k === 0 ? "" : ","}${quote(key)}:${quote(v)}`;
  }
  return `${out}}`;
}

function canonicalLine(task: TaskSpec, p: number, position: Int32Array | null): string {
  const upstream = sortedUnique(position ? task.upstream.map((u) => position[u]!) : task.upstream);
  // Fields listed one by one (not spread): one object shape, canonical key order.
  return JSON.stringify({
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
    resource_scales: task.resource_scales,
    fallback_queues: task.fallback_queues,
    working_dir: task.working_dir,
    env: task.env,
  } satisfies Record<keyof TaskLine, unknown>);
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
