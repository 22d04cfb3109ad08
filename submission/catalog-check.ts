/**
 * Checks against the server's catalog of clusters and queues: clusters and queues
 * exist, fallback queues exist, and each task's effective resources fit its queue or
 * one of its fallback queues. Tasks without their own cluster, resources or fallback
 * queues are checked once per template, so a million such tasks cost a million map
 * lookups at most.
 */

import { meant } from "../core/suggest.ts";
import type { Problems } from "./errors.ts";
import {
  type Catalog,
  candidateQueues,
  effectiveFallbackQueues,
  effectiveResources,
  fitsQueue,
  type QueueLimits,
} from "./resolve.ts";
import type { NormalizedResources, TaskSpec, TemplateSpec, WorkflowSpec } from "./submission.ts";
import { formatMemory, formatRuntime } from "./units.ts";

export class CatalogChecker {
  private readonly checkedTemplates = new Set<string>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly workflow: WorkflowSpec,
    private readonly catalog: Catalog,
    private readonly problems: Problems,
  ) {
    if (!this.known(workflow.default_cluster)) {
      this.report(
        `workflow: unknown cluster "${workflow.default_cluster}"${this.meantCluster(workflow.default_cluster)}`,
      );
    }
  }

  private meantCluster(name: string): string {
    return meant(name, Object.keys(this.catalog.clusters));
  }

  checkTemplate(t: TemplateSpec): void {
    const label = `template ${JSON.stringify(t.name)}`;
    if (t.cluster !== undefined && !this.known(t.cluster)) {
      this.report(`${label}: unknown cluster "${t.cluster}"${this.meantCluster(t.cluster)}`);
    }
  }

  checkTask(task: TaskSpec, template: TemplateSpec): void {
    const own =
      task.cluster !== undefined ||
      task.resources !== undefined ||
      task.fallback_queues !== undefined;
    if (!own) {
      if (this.checkedTemplates.has(template.name)) return;
      this.checkedTemplates.add(template.name);
    }
    const label = own
      ? `task ${JSON.stringify(task.name)}`
      : `template ${JSON.stringify(template.name)}`;
    if (task.cluster !== undefined && !this.known(task.cluster)) {
      this.report(`${label}: unknown cluster "${task.cluster}"${this.meantCluster(task.cluster)}`);
      return;
    }
    const cluster = task.cluster ?? template.cluster ?? this.workflow.default_cluster;
    const queues = this.catalog.clusters[cluster]?.queues;
    if (queues === undefined) return; // unknown cluster, reported where it was named
    const resources = effectiveResources(this.workflow, template, task);
    const where = `cluster "${cluster}"`;
    const fallbacks = effectiveFallbackQueues(template, task);
    const listedBy =
      task.fallback_queues !== undefined
        ? `task ${JSON.stringify(task.name)}`
        : `template ${JSON.stringify(template.name)}`;
    for (const q of fallbacks) {
      if (!Object.hasOwn(queues, q)) {
        this.report(`${listedBy}: fallback queue "${q}" is not a queue of ${where}`);
      }
    }
    if (resources.queue !== undefined && !Object.hasOwn(queues, resources.queue)) {
      const from = task.resources?.queue
        ? `task ${JSON.stringify(task.name)}`
        : template.resources?.queue
          ? `template ${JSON.stringify(template.name)}`
          : "workflow default_resources";
      this.report(
        `${from}: unknown queue "${resources.queue}" on ${where}${meant(resources.queue, Object.keys(queues))}`,
      );
      return;
    }
    const candidates = candidateQueues(queues, resources.queue, fallbacks);
    const misfits: string[] = [];
    for (const q of candidates) {
      const limits = Object.hasOwn(queues, q) ? queues[q] : undefined;
      if (limits === undefined) continue;
      if (fitsQueue(resources, limits)) return;
      misfits.push(`${q}: ${misfit(resources, limits)}`);
    }
    this.report(
      `${label}: resources fit no allowed queue of ${where} (${misfits.join("; ") || "no queues"})`,
    );
  }

  private known(cluster: string): boolean {
    return Object.hasOwn(this.catalog.clusters, cluster);
  }

  /** The same problem (e.g. a template's unknown queue) is reported once. */
  private report(problem: string): void {
    if (this.reported.has(problem)) return;
    this.reported.add(problem);
    this.problems.add(problem);
  }
}

function misfit(r: NormalizedResources, limits: QueueLimits): string {
  const over: string[] = [];
  if (r.cores !== undefined && limits.max_cores != null && r.cores > limits.max_cores) {
    over.push(`cores ${r.cores} > ${limits.max_cores}`);
  }
  const mem = limits.max_memory_bytes;
  if (r.memory_bytes !== undefined && mem != null && r.memory_bytes > mem) {
    over.push(`memory ${formatMemory(r.memory_bytes)} > ${formatMemory(mem)}`);
  }
  const rt = limits.max_runtime_seconds;
  if (r.runtime_seconds !== undefined && rt != null && r.runtime_seconds > rt) {
    over.push(`runtime ${formatRuntime(r.runtime_seconds)} > ${formatRuntime(rt)}`);
  }
  return over.join(", ");
}
