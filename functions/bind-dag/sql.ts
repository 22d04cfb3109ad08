import type { Sql, TransactionSql } from "postgres";
import type { TemplateSpec, ToolSpec } from "../../spec/submission.ts";

/** The statements of a bind, each one small and named for what it does. */

type Tx = TransactionSql | Sql;

export async function upsertToolVersion(
  tx: Tx,
  tool: ToolSpec,
): Promise<{ toolId: number; toolVersionId: number }> {
  // "do update" (a no-op) rather than "do nothing" so that the id comes back either way.
  const [t] = await tx<{ id: number }[]>`
    insert into tool (name) values (${tool.name})
    on conflict (name) do update set name = excluded.name returning id`;
  const [v] = await tx<{ id: number }[]>`
    insert into tool_version (tool_id, version) values (${t!.id}, ${tool.version})
    on conflict (tool_id, version) do update set version = excluded.version returning id`;
  return { toolId: t!.id, toolVersionId: v!.id };
}

export async function upsertTemplateVersion(
  tx: Tx,
  toolId: number,
  template: TemplateSpec,
  hash: string,
): Promise<number> {
  const [t] = await tx<{ id: number }[]>`
    insert into task_template (tool_id, name) values (${toolId}, ${template.name})
    on conflict (tool_id, name) do update set name = excluded.name returning id`;
  const [v] = await tx<{ id: number }[]>`
    insert into task_template_version (task_template_id, command_template, node_args, task_args, op_args, hash)
    values (${t!.id}, ${template.command}, ${template.node_args}, ${template.task_args}, ${template.op_args}, ${hash})
    on conflict (task_template_id, hash) do update set hash = excluded.hash returning id`;
  return v!.id;
}

/** A contiguous block of `count` task ids; committed on its own so binds do not queue on it. */
export async function allocateTaskIds(sql: Sql, count: number): Promise<number> {
  const [row] = await sql<{ first: number }[]>`
    update id_allocator set next_id = next_id + ${count}
    where name = 'task' returning next_id - ${count} as first`;
  return row!.first;
}

export interface ExistingRun {
  workflow_id: number;
  run_id: number;
  status: string;
  run_count: number;
}

/** The run a submission id already started (a redelivered or re-published submit). */
export async function findRunBySubmission(
  sql: Sql,
  submissionId: string,
): Promise<ExistingRun | undefined> {
  const [row] = await sql<ExistingRun[]>`
    select r.workflow_id, r.id as run_id, w.status,
           (select count(*)::int from workflow_run r2 where r2.workflow_id = w.id) as run_count
    from workflow_run r join workflow w on w.id = r.workflow_id
    where r.submission_id = ${submissionId}`;
  return row;
}

export interface ExistingWorkflow {
  id: number;
  status: string;
  name: string;
  dag_hash: string;
  taskset_hash: string;
  task_count: number;
}

export async function findWorkflowByIdentity(
  sql: Sql,
  identityHash: string,
): Promise<ExistingWorkflow | undefined> {
  const [row] = await sql<ExistingWorkflow[]>`
    select id, status, name, dag_hash, taskset_hash, task_count
    from workflow where identity_hash = ${identityHash}`;
  return row;
}

/** The template-level DAG counted by streamDag, beside the edges it summarises. */
export async function insertArrayEdges(
  tx: Tx,
  workflowId: number,
  edges: readonly { upstreamArrayId: number; downstreamArrayId: number; count: number }[],
): Promise<void> {
  if (edges.length === 0) return;
  await tx`
    insert into array_edge (workflow_id, upstream_array_id, downstream_array_id, edge_count)
    select ${workflowId}, u, d, n
    from unnest(${edges.map((e) => e.upstreamArrayId)}::bigint[],
      ${edges.map((e) => e.downstreamArrayId)}::bigint[],
      ${edges.map((e) => e.count)}::bigint[]) as e (u, d, n)`;
}
