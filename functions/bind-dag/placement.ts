import { DEFAULT_RESOURCES } from "../../core/resources.ts";
import { type ClusterCatalog, specCatalog } from "../../store/catalog.ts";
import { effectiveFallbackQueues, mergeResources, pickQueue } from "../../submission/resolve.ts";
import type {
  NormalizedResources,
  TemplateSpec,
  WorkflowSpec,
} from "../../submission/submission.ts";

export interface Placement {
  cluster_id: number;
  queue_id: number;
  cores: number;
  memory_bytes: number;
  runtime_seconds: number;
  project: string | null;
}

/**
 * Where a task runs and with what: resources by precedence (built-in < workflow <
 * template < task), on its queue or the first of its fallback queues (its own, else its
 * template's) that fits. Validation (DagReader with the catalog) has already rejected
 * tasks that fit nowhere, so this only resolves names to ids.
 */
export class Placer {
  private readonly spec;

  constructor(
    private readonly catalog: ClusterCatalog,
    private readonly workflow: WorkflowSpec,
  ) {
    this.spec = specCatalog(catalog);
  }

  place(
    template: TemplateSpec,
    task: {
      cluster?: string | undefined;
      resources?: NormalizedResources | undefined;
      fallback_queues?: string[] | undefined;
    },
  ): Placement {
    const clusterName = task.cluster ?? template.cluster ?? this.workflow.default_cluster;
    const r = mergeResources(
      DEFAULT_RESOURCES,
      this.workflow.default_resources,
      template.resources,
      task.resources,
    );
    const cluster = this.catalog.get(clusterName);
    const fallbacks = effectiveFallbackQueues(template, task);
    const queueName = pickQueue(this.spec, clusterName, r, fallbacks);
    const queue = cluster?.queues.find((q) => q.name === queueName);
    if (!cluster || !queue) {
      throw new Error(`no queue on cluster "${clusterName}" fits template "${template.name}"`);
    }
    return {
      cluster_id: cluster.id,
      queue_id: queue.id,
      cores: r.cores!,
      memory_bytes: r.memory_bytes!,
      runtime_seconds: r.runtime_seconds!,
      project: r.project ?? null,
    };
  }
}
