import type { Sql, TransactionSql } from "postgres";

type Tx = TransactionSql | Sql;

/**
 * A workflow's environment and working folder (sql/000012): written by bind-dag at each
 * submit and resume, read by launch (into the owner's launch messages) and, for a
 * task's owner and admins only, by store/read/private.ts.
 */
export async function saveWorkflowEnvironment(
  tx: Tx,
  workflowId: number,
  env: Record<string, string>,
  workingDir: string | null,
): Promise<void> {
  await tx`
    insert into workflow_environment (workflow_id, env, working_dir)
    values (${workflowId}, ${tx.json(env)}, ${workingDir})
    on conflict (workflow_id) do update
      set env = excluded.env, working_dir = excluded.working_dir, updated_at = now()`;
}

/** What a launch batch of an array carries: the workflow's env under the template's, and the nearest folder. */
export interface ArraySettings {
  /** absent for a workflow bound before environments were stored */
  env?: Record<string, string>;
  working_dir?: string;
}

export async function arraySettings(
  tx: Tx,
  arrayIds: readonly number[],
): Promise<Map<number, ArraySettings>> {
  const out = new Map<number, ArraySettings>();
  if (arrayIds.length === 0) return out;
  const rows = await tx<
    { id: number; env: Record<string, string> | null; working_dir: string | null }[]
  >`
    select a.id,
      case when e.workflow_id is null and a.env is null then null
        else coalesce(e.env, '{}'::jsonb) || coalesce(a.env, '{}'::jsonb) end as env,
      coalesce(a.working_dir, e.working_dir) as working_dir
    from task_array a
    left join workflow_environment e on e.workflow_id = a.workflow_id
    where a.id = any(${[...new Set(arrayIds)]}::bigint[])`;
  for (const r of rows) {
    out.set(r.id, {
      ...(r.env ? { env: r.env } : {}),
      ...(r.working_dir ? { working_dir: r.working_dir } : {}),
    });
  }
  return out;
}
