// The DAG views of a workflow page.
//
// Template DAG: (upstream array, downstream array, edge count), from array_edge, which
// bind writes with the tasks: a few rows, whatever the number of edges. A workflow's DAG
// never changes once bound (resubmitting the identity with another DAG is refused), so
// the answer is cached per workflow; statuses come from the overview, not from here.
// Task DAG: the tasks and edges themselves, only for workflows of at most TASK_DAG_MAX
// tasks (a picture of more is not readable, and the page must not ship 100k rows).
import type { Sql } from "postgres";

export const TASK_DAG_MAX = 200;

export interface TemplateDag {
  /** array ids, as in the overview's templates */
  nodes: number[];
  /** [upstream array, downstream array, edges between them] */
  edges: [number, number, number][];
}

export interface TaskDag {
  nodes: { id: number; name: string; array_id: number; status: string }[];
  edges: [number, number][];
}

export interface DagAnswer {
  templates: TemplateDag;
  /** null when the workflow has more than TASK_DAG_MAX tasks */
  tasks: TaskDag | null;
  task_dag_max: number;
}

/** Cached template DAGs, newest last; a few hundred small entries at most. */
const cache = new Map<number, TemplateDag>();
const CACHE_MAX = 500;

export async function templateDag(sql: Sql, workflowId: number): Promise<TemplateDag> {
  const hit = cache.get(workflowId);
  if (hit) return hit;
  const [arrays, edges] = await Promise.all([
    sql<{ id: number }[]>`select id from task_array where workflow_id = ${workflowId} order by id`,
    sql<{ up: number; down: number; n: number }[]>`
      select upstream_array_id as up, downstream_array_id as down, edge_count as n
      from array_edge where workflow_id = ${workflowId}
      order by 1, 2`,
  ]);
  const dag: TemplateDag = {
    nodes: arrays.map((a) => a.id),
    edges: edges.map((e) => [e.up, e.down, e.n]),
  };
  // Only a bound workflow's DAG is final (bind writes tasks and edges in one transaction,
  // so an array without tasks yet means the bind has not committed).
  if (dag.nodes.length > 0) {
    cache.set(workflowId, dag);
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  }
  return dag;
}

export async function taskDag(sql: Sql, workflowId: number): Promise<TaskDag | null> {
  const [wf] = await sql<{ task_count: number }[]>`
    select task_count from workflow where id = ${workflowId}`;
  if (!wf || wf.task_count > TASK_DAG_MAX) return null;
  const [nodes, edges] = await Promise.all([
    sql<TaskDag["nodes"]>`
      select id, name, array_id, status from task
      where workflow_id = ${workflowId} order by id limit ${TASK_DAG_MAX + 1}`,
    sql<{ up: number; down: number }[]>`
      select e.upstream_id as up, e.downstream_id as down
      from task u join edge e on e.upstream_id = u.id
      where u.workflow_id = ${workflowId}`,
  ]);
  if (nodes.length > TASK_DAG_MAX) return null;
  return { nodes: [...nodes], edges: edges.map((e) => [e.up, e.down]) };
}

export async function workflowDag(sql: Sql, workflowId: number): Promise<DagAnswer> {
  const [templates, tasks] = await Promise.all([
    templateDag(sql, workflowId),
    taskDag(sql, workflowId),
  ]);
  return { templates, tasks, task_dag_max: TASK_DAG_MAX };
}
