import type { Sql, TransactionSql } from "postgres";
import type { WfSubmit } from "../../bus/submit.ts";
import { CopyWriter, textArrayLiteral } from "../../db/copy.ts";
import { renderCommand } from "../../spec/command.ts";
import { DagReader } from "../../spec/dag.ts";
import { SpecError } from "../../spec/errors.ts";
import { templateVersionHash } from "../../spec/hash.ts";
import type { TaskSpec, TemplateSpec } from "../../spec/submission.ts";
import { DEFAULT_RESOURCE_SCALES } from "../../spec/submission.ts";
import { type ClusterCatalog, specCatalog } from "../../store/catalog.ts";
import { type Placement, Placer } from "./placement.ts";
import { upsertTemplateVersion } from "./sql.ts";

/**
 * Streams a submission's DAG lines into Postgres: templates (upserted) and their arrays
 * first, then every task by COPY with ids base + i, then every edge by COPY. Validation
 * runs on the same pass; a problem throws SpecError and the caller's transaction rolls
 * back, so nothing of an invalid submission is ever committed. With `tx` absent it only
 * validates and hashes (a resubmission compares hashes before deciding anything).
 */

export interface BindTarget {
  tx: TransactionSql;
  workflowId: number;
  toolId: number;
  firstTaskId: number;
}

export interface BindSummary {
  taskCount: number;
  edgeCount: number;
  dagHash: string;
  tasksetHash: string;
}

interface TemplateState {
  spec: TemplateSpec;
  arrayId: number;
  placement: Placement;
  scalesJson: string;
  fallbackLiteral: string | null;
  argNames: string[];
}

const TASK_COLUMNS = `id, workflow_id, array_id, name, hash, command, args, max_attempts,
  pending_upstream, cluster_id, queue_id, cores, memory_bytes, runtime_seconds, project,
  resource_scales, fallback_queues, attributes`;

export async function streamDag(
  lines: AsyncIterable<unknown>,
  msg: WfSubmit,
  catalog: ClusterCatalog,
  target: BindTarget | null,
  onProgress?: () => void,
  phases: Record<string, number> = {},
): Promise<BindSummary> {
  const ms = () => performance.now();
  const addPhase = (k: string, t0: number) => {
    phases[k] = (phases[k] ?? 0) + (ms() - t0);
  };
  const it = lines[Symbol.asyncIterator]();
  // Validation, including clusters, queues and limits, is the reader's; hashes too.
  const reader = new DagReader({ workflow: msg.workflow, catalog: specCatalog(catalog) });
  const placer = new Placer(catalog, msg.workflow);
  const templates = new Map<string, TemplateState>();
  let edges = new Float64Array(1024);
  let edgeCount = 0;
  let tasks: CopyWriter | null = null;
  let taskCount = 0;

  const openTasks = async () => {
    if (!target || tasks) return;
    const stream = await target.tx.unsafe(`copy task (${TASK_COLUMNS}) from stdin`).writable();
    tasks = new CopyWriter(stream);
  };

  for (;;) {
    let t = ms();
    const next = await it.next();
    addPhase("read", t);
    if (next.done) break;
    t = ms();
    const line = reader.add(next.value);
    addPhase("reader", t);
    if (line.kind === "template") {
      const { kind: _, ...spec } = line;
      const hash = templateVersionHash(spec);
      const arrayId = target ? await createArray(target, spec, hash) : 0;
      templates.set(spec.name, {
        spec,
        arrayId,
        placement: placer.place(spec, {}),
        scalesJson: JSON.stringify(spec.resource_scales ?? DEFAULT_RESOURCE_SCALES),
        fallbackLiteral: spec.fallback_queues ? textArrayLiteral(spec.fallback_queues) : null,
        argNames: [...spec.node_args, ...spec.task_args, ...spec.op_args],
      });
      continue;
    }
    const task: TaskSpec & { i: number } = line;
    const template = templates.get(task.template)!;
    const placement =
      task.cluster !== undefined || task.resources !== undefined
        ? placer.place(template.spec, task)
        : template.placement;
    for (const u of task.upstream) {
      if (edgeCount * 2 + 2 > edges.length) {
        const grown = new Float64Array(edges.length * 2);
        grown.set(edges);
        edges = grown;
      }
      edges[edgeCount * 2] = u;
      edges[edgeCount * 2 + 1] = task.i;
      edgeCount++;
    }
    taskCount++;
    if (target) {
      await openTasks();
      t = ms();
      await tasks!.row([
        target.firstTaskId + task.i,
        target.workflowId,
        template.arrayId,
        task.name,
        reader.taskHash(task.i),
        renderCommand(template.spec.command, task.args),
        JSON.stringify(task.args),
        task.max_attempts ?? msg.workflow.default_max_attempts,
        task.upstream.length,
        placement.cluster_id,
        placement.queue_id,
        placement.cores,
        placement.memory_bytes,
        placement.runtime_seconds,
        placement.project,
        template.scalesJson,
        template.fallbackLiteral,
        task.attributes ? JSON.stringify(task.attributes) : null,
      ]);
      addPhase("row", t);
      if (taskCount % 50_000 === 0) onProgress?.();
    }
  }
  const summary = reader.finish();
  if (taskCount !== msg.counts.tasks) {
    throw new SpecError(
      `the DAG holds ${taskCount} tasks but the submission announced ${msg.counts.tasks}`,
    );
  }
  if (target) {
    let t = ms();
    if (tasks) await (tasks as CopyWriter).end();
    addPhase("taskCopyEnd", t);
    t = ms();
    await writeEdges(target, edges, edgeCount);
    addPhase("edges", t);
  }
  return { taskCount, edgeCount, dagHash: summary.dagHash, tasksetHash: summary.taskSetHash };
}

async function createArray(target: BindTarget, spec: TemplateSpec, hash: string): Promise<number> {
  const versionId = await upsertTemplateVersion(target.tx, target.toolId, spec, hash);
  const [row] = await target.tx<{ id: number }[]>`
    insert into task_array (workflow_id, task_template_version_id, max_concurrently_running)
    values (${target.workflowId}, ${versionId}, ${spec.max_concurrently_running ?? null})
    returning id`;
  return row!.id;
}

async function writeEdges(target: BindTarget, edges: Float64Array, count: number): Promise<void> {
  if (count === 0) return;
  const stream =
    await target.tx`copy edge (workflow_id, upstream_id, downstream_id) from stdin`.writable();
  const writer = new CopyWriter(stream);
  const base = target.firstTaskId;
  for (let e = 0; e < count; e++) {
    await writer.row([target.workflowId, base + edges[e * 2]!, base + edges[e * 2 + 1]!]);
  }
  await writer.end();
}

export type { Sql };
