/**
 * Effective settings of a task: built-in defaults < workflow defaults < template <
 * task, field by field. The Submission keeps the levels apart; the binder and
 * validation resolve them here, so both agree.
 */
import { DEFAULT_RESOURCES } from "../core/resources.ts";
import type {
  NormalizedResources,
  ResourceScales,
  Submission,
  TaskSpec,
  TemplateSpec,
  WorkflowSpec,
} from "./submission.ts";

export interface QueueLimits {
  max_cores?: number | null | undefined;
  max_memory_bytes?: number | null | undefined;
  max_runtime_seconds?: number | null | undefined;
}

/** The clusters and queues known to the server; null or absent limit = unlimited. */
export interface Catalog {
  clusters: Record<string, { queues: Record<string, QueueLimits> }>;
}

const templateMaps = new WeakMap<readonly TemplateSpec[], Map<string, TemplateSpec>>();

/** The template of each name (first one wins), cached per templates array. */
export function templateMap(templates: readonly TemplateSpec[]): Map<string, TemplateSpec> {
  let map = templateMaps.get(templates);
  if (map === undefined) {
    map = new Map();
    for (const t of templates) if (!map.has(t.name)) map.set(t.name, t);
    templateMaps.set(templates, map);
  }
  return map;
}

/** Later levels override earlier ones, field by field; undefined levels are skipped. */
export function mergeResources(
  ...levels: (NormalizedResources | undefined)[]
): NormalizedResources {
  const out: NormalizedResources = {};
  for (const level of levels) {
    if (level === undefined) continue;
    for (const key of Object.keys(level) as (keyof NormalizedResources)[]) {
      const v = level[key];
      if (v !== undefined) (out as Record<string, unknown>)[key] = v;
    }
  }
  return out;
}

/** The resources a task runs with: DEFAULT_RESOURCES < workflow < template < task. */
export function effectiveResources(
  workflow: Pick<WorkflowSpec, "default_resources">,
  template: Pick<TemplateSpec, "resources"> | undefined,
  task: Pick<TaskSpec, "resources">,
): NormalizedResources {
  return mergeResources(
    DEFAULT_RESOURCES,
    workflow.default_resources,
    template?.resources,
    task.resources,
  );
}

/** The effective resources of task `taskIndex` (see effectiveResources). */
export function resolveResources(sub: Submission, taskIndex: number): NormalizedResources {
  const task = sub.tasks[taskIndex];
  if (task === undefined) throw new RangeError(`no task at index ${taskIndex}`);
  return effectiveResources(sub.workflow, templateMap(sub.templates).get(task.template), task);
}

/** The effective cluster of a task: task, else template, else the workflow default. */
export function resolveCluster(
  sub: Pick<Submission, "workflow">,
  template: TemplateSpec | undefined,
  task: Pick<TaskSpec, "cluster">,
): string {
  return task.cluster ?? template?.cluster ?? sub.workflow.default_cluster;
}

/**
 * The scales of a task's retries: its own over its template's, resource by resource.
 * Undefined when neither level gives any (retry then uses DEFAULT_SCALES, core/scale.ts).
 */
export function effectiveScales(
  template: Pick<TemplateSpec, "resource_scales"> | undefined,
  task: Pick<TaskSpec, "resource_scales">,
): ResourceScales | undefined {
  const own = task.resource_scales;
  const shared = template?.resource_scales;
  if (own === undefined) return shared;
  if (shared === undefined) return own;
  const out: ResourceScales = { ...shared };
  if (own.memory !== undefined) out.memory = own.memory;
  if (own.runtime !== undefined) out.runtime = own.runtime;
  return out;
}

/** A task's fallback queues: its own list, else its template's (lists are not merged). */
export function effectiveFallbackQueues(
  template: Pick<TemplateSpec, "fallback_queues"> | undefined,
  task: Pick<TaskSpec, "fallback_queues">,
): readonly string[] {
  return task.fallback_queues ?? template?.fallback_queues ?? [];
}

/** A task's attempts: its own, else its template's, else the workflow default. */
export function effectiveMaxAttempts(
  workflow: Pick<WorkflowSpec, "default_max_attempts">,
  template: Pick<TemplateSpec, "max_attempts"> | undefined,
  task: Pick<TaskSpec, "max_attempts">,
): number {
  return task.max_attempts ?? template?.max_attempts ?? workflow.default_max_attempts;
}

/** Whether the resources are within the queue's limits (a missing value asks for nothing). */
export function fitsQueue(resources: NormalizedResources, limits: QueueLimits): boolean {
  return (
    within(resources.cores, limits.max_cores) &&
    within(resources.memory_bytes, limits.max_memory_bytes) &&
    within(resources.runtime_seconds, limits.max_runtime_seconds)
  );
}

function within(value: number | undefined, limit: number | null | undefined): boolean {
  return value === undefined || limit === null || limit === undefined || value <= limit;
}

/**
 * The queues a task may start on, in order: its queue (with no queue given, the first
 * queue of the cluster in catalog order), then its fallback queues (effectiveFallbackQueues).
 */
export function candidateQueues(
  queues: Readonly<Record<string, QueueLimits>>,
  queue: string | undefined,
  fallbackQueues: readonly string[] = [],
): string[] {
  const first = queue ?? Object.keys(queues)[0];
  return first === undefined ? [...fallbackQueues] : [first, ...fallbackQueues];
}

/**
 * The queue a task starts on: the first of candidateQueues that exists and whose limits
 * the resources fit. Undefined when none fits or the cluster is unknown.
 */
export function pickQueue(
  catalog: Catalog,
  cluster: string,
  resources: NormalizedResources,
  fallbackQueues: readonly string[] = [],
): string | undefined {
  const queues = catalog.clusters[cluster]?.queues;
  if (queues === undefined) return undefined;
  for (const name of candidateQueues(queues, resources.queue, fallbackQueues)) {
    const limits = Object.hasOwn(queues, name) ? queues[name] : undefined;
    if (limits !== undefined && fitsQueue(resources, limits)) return name;
  }
  return undefined;
}
