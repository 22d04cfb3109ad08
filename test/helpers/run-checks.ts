// What an end-to-end run under disruption must show: every task DONE exactly once, never
// two live instances of one task at once.
import assert from "node:assert/strict";
import type { Sql } from "postgres";

/** Tasks DONE in the database (of every workflow: tests use a database each). */
export async function doneCount(sql: Sql): Promise<number> {
  const [r] = await sql<{ n: number }[]>`select count(*)::int as n from task where status = 'DONE'`;
  return r!.n;
}

/** Polls `ok` until it holds; fails after `ms`. Errors of `ok` count as "not yet". */
export async function waitFor(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await ok().catch(() => false)) return;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Exactly one DONE instance per task, and no two live instances of a task overlapped. */
export async function assertExactlyOnce(
  sql: Sql,
  workflowId: number,
  tasks: number,
): Promise<void> {
  const [dup] = await sql<{ tasks: number; bad: number }[]>`
    select count(*)::int as tasks, count(*) filter (where n <> 1)::int as bad from (
      select t.id, count(i.id) filter (where i.status = 'DONE') as n
      from task t left join task_instance i on i.task_id = t.id
      where t.workflow_id = ${workflowId} group by t.id) s`;
  assert.equal(dup!.tasks, tasks);
  assert.equal(dup!.bad, 0, "every task has exactly one DONE instance");
  const [overlap] = await sql<{ n: number }[]>`
    with ends as (
      select i.id, i.task_id, i.created_at,
        (select min(a.at) from task_instance_status_audit a
         where a.task_instance_id = i.id
           and a.status not in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING')) as ended_at
      from task_instance i where i.workflow_id = ${workflowId}
    )
    select count(*)::int as n from ends a join ends b
      on a.task_id = b.task_id and a.id < b.id and b.created_at < coalesce(a.ended_at, 'infinity')`;
  assert.equal(overlap!.n, 0, "never two live instances of one task at once");
}
