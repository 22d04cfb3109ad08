import type { WorkflowLimits } from "../bus/schemas.ts";
import type { Tx } from "./commands.ts";

/**
 * The workflow's limits now, as its bridges hold them: the workflow's, each template's
 * (null: not limited), and a version that grows with every change: the number of its
 * recorded limit changes (limit_change only grows). Undefined when there is no such
 * workflow.
 */
export async function currentLimits(
  sql: Tx,
  workflowId: number,
): Promise<WorkflowLimits | undefined> {
  const [row] = await sql<WorkflowLimits[]>`
    select w.max_concurrently_running as workflow,
      (select count(*)::int from limit_change c where c.workflow_id = w.id) as version,
      coalesce((
        select json_object_agg(t.name, a.max_concurrently_running)
        from task_array a
        join task_template_version v on v.id = a.task_template_version_id
        join task_template t on t.id = v.task_template_id
        where a.workflow_id = w.id
      ), '{}') as templates
    from workflow w where w.id = ${workflowId}`;
  return row && { version: row.version, workflow: row.workflow, templates: row.templates };
}

/** The clusters a workflow's launch batches went to: where its bridges may hold work. */
export async function clustersLaunchedTo(sql: Tx, workflowId: number): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select c.name from cluster c
    where exists (select 1 from launch_batch b where b.workflow_id = ${workflowId} and b.cluster_id = c.id)
    order by c.name`;
  return rows.map((r) => r.name);
}
