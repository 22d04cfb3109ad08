// query.resources: the GUI's resources read model (store/read/resources.ts), in the shape
// of `drover resources --json`: per template, statistics over its DONE instances.
import type { Sql } from "postgres";
import type { QueryError, ResourcesAnswer, ResourceUsage } from "../../bus/queries.ts";
import { meant } from "../../core/suggest.ts";
import {
  type Distribution,
  donePlacement,
  resourceStats,
  type TemplateResources,
} from "./resources.ts";

/** `{ error }` naming the template and the workflow's templates when it has no such one. */
export async function templateResources(
  sql: Sql,
  workflowId: number,
  template: string | undefined,
): Promise<ResourcesAnswer | QueryError> {
  const [stats, placement] = await Promise.all([
    resourceStats(sql, workflowId, { everyTemplate: true }),
    donePlacement(sql, workflowId),
  ]);
  let rows = stats.templates;
  if (template !== undefined) {
    rows = rows.filter((t) => t.template === template);
    if (rows.length === 0) {
      const known = stats.templates.map((t) => t.template).sort();
      return {
        error: `workflow ${workflowId} has no template ${JSON.stringify(template)}${meant(template, known)} (its templates: ${known.join(", ") || "none"})`,
      };
    }
  }
  const byArray = new Map(placement.map((p) => [p.array_id, p]));
  return {
    workflow: workflowId,
    templates: rows.map((t: TemplateResources) => ({
      template: t.template,
      done: t.done,
      memory: usage(t.memory),
      runtime: usage(t.runtime),
      cores: byArray.get(t.array_id)?.cores ?? null,
      queue: byArray.get(t.array_id)?.queue ?? null,
    })),
  };
}

function usage(d: Distribution): ResourceUsage {
  return {
    measured: d.samples,
    used: {
      min: d.used.min,
      max: d.used.max,
      mean: d.used.mean,
      median: d.used.p50,
      p90: d.used.p90,
      p95: d.used.p95,
    },
    requested: d.done_requested,
  };
}
