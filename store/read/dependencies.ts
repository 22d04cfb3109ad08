// A task's direct neighbours in the DAG: the tasks it waits for (upstream) and the tasks
// waiting for it (downstream). Shared by the GUI's task page and `drover dependencies`.
//
// A fan-in can be a million edges: each direction is one page (ordered by id, `limit`
// and `offset`) plus its total, counted on the edge index alone, so the cost of a page
// does not grow with the fan-in beyond the count.
import type { Sql } from "postgres";

export interface Neighbour {
  id: number;
  name: string;
  template: string;
  status: string;
}

export interface NeighbourPage {
  /** all neighbours in this direction, beyond the page too */
  total: number;
  tasks: Neighbour[];
}

export interface TaskDependencies {
  task: Neighbour;
  upstream: NeighbourPage;
  downstream: NeighbourPage;
}

export interface Page {
  limit: number;
  offset: number;
}

/** The edge column that holds this task (`mine`) and the one that holds the neighbour. */
const COLUMNS = {
  up: { mine: "downstream_id", theirs: "upstream_id" },
  down: { mine: "upstream_id", theirs: "downstream_id" },
} as const;

export async function neighbours(
  sql: Sql,
  taskId: number,
  direction: "up" | "down",
  page: Page,
): Promise<NeighbourPage> {
  const { mine, theirs } = COLUMNS[direction];
  const [tasks, [count]] = await Promise.all([
    sql<Neighbour[]>`
      select n.id, n.name, tt.name as template, n.status
      from (
        select e.${sql(theirs)} as id from edge e
        where e.${sql(mine)} = ${taskId}
        order by 1 limit ${page.limit} offset ${page.offset}
      ) p
      join task n on n.id = p.id
      join task_array a on a.id = n.array_id
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      order by n.id`,
    sql<{ n: number }[]>`select count(*)::int as n from edge where ${sql(mine)} = ${taskId}`,
  ]);
  return { total: count?.n ?? 0, tasks: [...tasks] };
}

/** The task and a page of its neighbours each way; undefined when there is no such task. */
export async function taskDependencies(
  sql: Sql,
  taskId: number,
  page: Page,
): Promise<TaskDependencies | undefined> {
  const [[task], upstream, downstream] = await Promise.all([
    sql<Neighbour[]>`
      select t.id, t.name, tt.name as template, t.status
      from task t
      join task_array a on a.id = t.array_id
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where t.id = ${taskId}`,
    neighbours(sql, taskId, "up", page),
    neighbours(sql, taskId, "down", page),
  ]);
  if (!task) return undefined;
  return { task, upstream, downstream };
}
