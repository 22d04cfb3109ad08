import type { Sql, TransactionSql } from "postgres";
import type { TemplateSpec, ToolSpec, WorkflowSpec } from "../submission/submission.ts";

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
  owner: string | null;
}

export async function findWorkflowByIdentity(
  sql: Sql,
  identityHash: string,
): Promise<ExistingWorkflow | undefined> {
  const [row] = await sql<ExistingWorkflow[]>`
    select id, status, name, dag_hash, taskset_hash, task_count, owner
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

/** The temporary table a resume's pass fills (see bind.ts RefreshTarget); dropped at commit. */
export async function createFreshTaskTable(tx: Tx): Promise<void> {
  await tx`create temporary table fresh_task (hash text, command text, args jsonb) on commit drop`;
}

/**
 * Tasks that will run again (reset to REGISTERING by the resume) take the command and
 * args of the new submission: op args are not part of a task's identity, so they may
 * have changed. DONE tasks keep what they ran with, and so do tasks a hot resume leaves
 * running. Returns the ids of the tasks whose command changed.
 */
export async function refreshCommands(tx: Tx, workflowId: number): Promise<number[]> {
  // Compared before the update: RETURNING would see the new values only.
  const rows = await tx<{ id: number }[]>`
    with diff as (
      select t.id, f.command, f.args, (t.command <> f.command) as command_changed
      from task t join fresh_task f on f.hash = t.hash
      where t.workflow_id = ${workflowId} and t.status = 'REGISTERING'
        and (t.command <> f.command or t.args <> f.args)
    ), updated as (
      update task t set command = d.command, args = d.args
      from diff d where t.id = d.id
      returning t.id
    )
    select id from diff where command_changed order by id`;
  return rows.map((r) => r.id);
}

/**
 * A resume keeps the workflow's attributes and takes the new submission's values (new
 * keys added, existing keys overwritten), as Jobmon does.
 */
export async function mergeWorkflowAttributes(
  tx: Tx,
  workflowId: number,
  attributes: Record<string, string> | undefined,
): Promise<void> {
  if (attributes === undefined || Object.keys(attributes).length === 0) return;
  await tx`
    update workflow set attributes = coalesce(attributes, '{}'::jsonb) || ${tx.json(attributes)}
    where id = ${workflowId}`;
}

/** A new workflow row (its hashes set once the DAG is read: setDagHashes). */
export async function insertWorkflow(
  tx: Tx,
  w: {
    toolVersionId: number;
    workflow: WorkflowSpec;
    identity: string;
    status: "QUEUED" | "REGISTERING";
    user: string;
    owner: string;
    submissionId: string;
    taskCount: number;
  },
): Promise<number> {
  const spec = w.workflow;
  const [row] = await tx<{ id: number }[]>`
    insert into workflow (tool_version_id, name, args, identity_hash, dag_hash, taskset_hash, status,
      fail_fast, max_concurrently_running, default_cluster, attributes, submitted_by, owner,
      submission_id, timeout_seconds, task_count)
    values (${w.toolVersionId}, ${spec.name}, ${tx.json(spec.args ?? {})}, ${w.identity}, '', '',
      ${w.status}, ${spec.fail_fast}, ${spec.max_concurrently_running ?? null}, ${spec.default_cluster},
      ${spec.attributes ? tx.json(spec.attributes) : null}, ${w.user}, ${w.owner}, ${w.submissionId},
      ${spec.timeout_seconds ?? null}, ${w.taskCount})
    returning id`;
  return row!.id;
}

/** The first run of a new workflow; a held one's clock starts at its release. */
export async function insertFirstRun(
  tx: Tx,
  run: { workflowId: number; user: string; host: string; submissionId: string; held: boolean },
): Promise<number> {
  const [row] = await tx<{ id: number }[]>`
    insert into workflow_run (workflow_id, user_name, host, submission_id, released_at)
    values (${run.workflowId}, ${run.user}, ${run.host}, ${run.submissionId},
      ${run.held ? null : new Date()}) returning id`;
  return row!.id;
}

export async function setDagHashes(
  tx: Tx,
  workflowId: number,
  hashes: { dagHash: string; tasksetHash: string },
): Promise<void> {
  await tx`
    update workflow set dag_hash = ${hashes.dagHash}, taskset_hash = ${hashes.tasksetHash}
    where id = ${workflowId}`;
}

/** A workflow whose bind failed for good, under an identity of its own; returns its id. */
export async function insertAbortedWorkflow(
  tx: Tx,
  w: {
    toolVersionId: number;
    name: string;
    args: Record<string, unknown>;
    identity: string;
    user: string;
    owner: string;
    submissionId: string;
    reason: string;
  },
): Promise<number> {
  const [row] = await tx<{ id: number }[]>`
    insert into workflow (tool_version_id, name, args, identity_hash, dag_hash, taskset_hash, status,
      submitted_by, owner, submission_id, error)
    values (${w.toolVersionId}, ${w.name}, ${tx.json(w.args as never)}, ${w.identity}, '', '',
      'ABORTED', ${w.user}, ${w.owner}, ${w.submissionId}, ${w.reason.slice(0, 4000)})
    returning id`;
  await tx`insert into workflow_status_audit (workflow_id, status) values (${row!.id}, 'ABORTED')`;
  return row!.id;
}

export async function latestRunId(sql: Tx, workflowId: number): Promise<number | undefined> {
  const [row] = await sql<{ id: number }[]>`
    select id from workflow_run where workflow_id = ${workflowId} order by id desc limit 1`;
  return row?.id;
}

/** The workflow's status with its row locked (undefined: no such workflow). */
export async function lockWorkflowStatus(tx: Tx, workflowId: number): Promise<string | undefined> {
  const [row] = await tx<{ status: string }[]>`
    select status from workflow where id = ${workflowId} for update`;
  return row?.status;
}

/** The Postgres backend serving this transaction, for the bind's debug log. */
export async function backendPid(tx: Tx): Promise<number> {
  const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
  return row!.pid;
}

/** The COPYs of a bind: task rows in TASK_COLUMNS order, and edges. */
export function bindCopyStatements(taskColumns: string): { task: string; edge: string } {
  return {
    task: `copy task (${taskColumns}) from stdin`,
    edge: "copy edge (upstream_id, downstream_id, workflow_id) from stdin",
  };
}

/** The COPY of a resume's pass into the fresh_task table (see createFreshTaskTable). */
export const FRESH_TASK_COPY = "copy fresh_task (hash, command, args) from stdin";

/** A template's array in a workflow (the unit of its concurrency limit). */
export async function insertArray(
  tx: Tx,
  workflowId: number,
  templateVersionId: number,
  limit: number | null,
  where: { env?: Record<string, string> | undefined; working_dir?: string | undefined } = {},
): Promise<number> {
  const [row] = await tx<{ id: number }[]>`
    insert into task_array (workflow_id, task_template_version_id, max_concurrently_running, env,
      working_dir)
    values (${workflowId}, ${templateVersionId}, ${limit}, ${where.env ? tx.json(where.env) : null},
      ${where.working_dir ?? null})
    returning id`;
  return row!.id;
}
