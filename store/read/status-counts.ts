// Counts by status for the metrics endpoint (read at every scrape, so cheap by design):
// tasks of the active workflows only, counted on task_workflow_status_idx; workflows all.
import type { Sql } from "postgres";

/** A scrape must not hold a connection long: a slow count is given up. */
const STATEMENT_TIMEOUT_MS = 5000;

export interface StatusCount {
  status: string;
  n: number;
}

/** Tasks of QUEUED and RUNNING workflows, by task status. */
export async function activeTaskCounts(sql: Sql): Promise<StatusCount[]> {
  return sql.begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${String(STATEMENT_TIMEOUT_MS)}, true)`;
    return tx<StatusCount[]>`
      select t.status, count(*)::int as n
      from workflow w join task t on t.workflow_id = w.id
      where w.status in ('QUEUED', 'RUNNING')
      group by t.status`;
  });
}

/** Every workflow, by status. */
export async function workflowCounts(sql: Sql): Promise<StatusCount[]> {
  return sql<StatusCount[]>`select status, count(*)::int as n from workflow group by status`;
}
