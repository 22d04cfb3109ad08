import type { Sql, TransactionSql } from "postgres";
import type { WfSubmit } from "../../bus/submit.ts";
import { type CopyWriter, copyField, openCopy, textArrayLiteral } from "../../db/copy.ts";
import { DagReader, type DagSummary } from "../../spec/dag.ts";
import { SpecError } from "../../spec/errors.ts";
import { templateVersionHash } from "../../spec/hash.ts";
import type { TaskSpec, TemplateSpec } from "../../spec/submission.ts";
import { DEFAULT_RESOURCE_SCALES } from "../../spec/submission.ts";
import { type ClusterCatalog, specCatalog } from "../../store/catalog.ts";
import { type Placement, Placer } from "./placement.ts";
import { compileArgs, compileCommand, type RenderArgs } from "./render.ts";
import { upsertTemplateVersion } from "./sql.ts";

/**
 * Streams a submission's DAG lines into Postgres: templates (upserted) and their arrays
 * first, then every task by COPY with ids base + i, then every edge by COPY. Validation
 * runs on the same pass; a problem throws SpecError and the caller's transaction rolls
 * back, so nothing of an invalid submission is ever committed. With `tx` absent it only
 * validates and hashes (a resubmission compares hashes before deciding anything).
 *
 * Lines come in batches and are handled synchronously, rows encoded straight into COPY
 * text (~1 MB at a time); the only waits are for the next batch and for Postgres when
 * it falls a few MB behind. Edges are kept as pairs of positions (8 bytes each) and
 * written once the tasks are in.
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

/** Milliseconds spent per phase of a bind, for the debug log (a phase may repeat). */
export type BindPhases = Record<string, number>;

interface TemplateState {
  spec: TemplateSpec;
  arrayId: number;
  /**
   * Where its tasks without settings of their own run. Placed at its first task, once
   * DagReader has checked the template's resources against the catalog with that task
   * (an unknown queue is a SpecError there, not an error of the placer).
   */
  placement: Placement | null;
  scalesJson: string;
  fallbackLiteral: string | null;
  command: RenderArgs;
  argsJson: RenderArgs;
  /** The COPY text after pending_upstream of a task without settings of its own. */
  tail: string | null;
}

/**
 * Columns in the order rows are written: the ones that vary first, then those that are
 * the same for every task of a template (encoded once, see TemplateState.tail).
 */
const TASK_COLUMNS = `id, name, hash, command, args, pending_upstream, workflow_id, array_id,
  max_attempts, cluster_id, queue_id, cores, memory_bytes, runtime_seconds, project,
  resource_scales, fallback_queues, attributes`;

export async function streamDag(
  batches: AsyncIterable<readonly unknown[]>,
  msg: WfSubmit,
  catalog: ClusterCatalog,
  target: BindTarget | null,
  onProgress?: () => void,
  phases: BindPhases = {},
): Promise<BindSummary> {
  let clock = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + (now - clock);
    clock = now;
  };
  // Validation, including clusters, queues and limits, is the reader's; hashes too.
  const reader = new DagReader({
    workflow: msg.workflow,
    catalog: specCatalog(catalog),
    expectedTasks: msg.counts.tasks,
  });
  const placer = new Placer(catalog, msg.workflow);
  const templates = new Map<string, TemplateState>();
  const defaultMaxAttempts = msg.workflow.default_max_attempts;
  let edges = new Int32Array(2 * Math.max(1024, Math.min(msg.counts.edges, 1 << 26)));
  let edgeCount = 0;
  // Opened at the first task: the template lines before it run queries of their own.
  let tasks: CopyWriter | null = null;
  let taskCount = 0;
  let lastProgress = 0;
  let summary: DagSummary;

  try {
    for await (const batch of batches) {
      phase("read");
      for (let b = 0; b < batch.length; b++) {
        const line = reader.add(batch[b]);
        if (line.kind === "template") {
          const { kind: _, ...spec } = line;
          templates.set(spec.name, await templateState(target, spec));
          continue;
        }
        const task: TaskSpec & { i: number } = line;
        const upstream = task.upstream;
        if (edgeCount + upstream.length > edges.length / 2) {
          let size = edges.length * 2;
          while (size < 2 * (edgeCount + upstream.length)) size *= 2;
          const grown = new Int32Array(size);
          grown.set(edges);
          edges = grown;
        }
        for (let k = 0; k < upstream.length; k++) {
          edges[2 * edgeCount] = upstream[k]!;
          edges[2 * edgeCount + 1] = task.i;
          edgeCount++;
        }
        taskCount++;
        if (target) {
          tasks ??= await openCopy(target.tx.unsafe(`copy task (${TASK_COLUMNS}) from stdin`));
          const template = templates.get(task.template)!;
          tasks.line(
            `${target!.firstTaskId + task.i}\t${task.name}\t${reader.taskHash(task.i)}\t${template.command(task.args)}\t${template.argsJson(task.args)}\t${upstream.length}${ownTail(task, template, placer, target!, defaultMaxAttempts)}`,
          );
        }
      }
      phase("validate+encode");
      if (tasks?.full) {
        await tasks.flush();
        phase("copy wait");
      }
      if (taskCount - lastProgress >= 50_000) {
        lastProgress = taskCount;
        onProgress?.();
      }
    }
    summary = reader.finish();
    if (taskCount !== msg.counts.tasks) {
      throw new SpecError(
        `the DAG holds ${taskCount} tasks but the submission announced ${msg.counts.tasks}`,
      );
    }
    if (target && tasks) {
      await tasks.end();
      phase("task copy end");
      await writeEdges(target, edges, edgeCount, onProgress);
      phase("edges");
    }
  } catch (err) {
    // An open COPY must end before the transaction can roll back.
    tasks?.abort(err);
    throw err;
  }
  return { taskCount, edgeCount, dagHash: summary.dagHash, tasksetHash: summary.taskSetHash };
}

async function templateState(
  target: BindTarget | null,
  spec: TemplateSpec,
): Promise<TemplateState> {
  const hash = templateVersionHash(spec);
  const arrayId = target ? await createArray(target, spec, hash) : 0;
  const argNames = [...spec.node_args, ...spec.task_args, ...spec.op_args];
  const state: TemplateState = {
    spec,
    arrayId,
    placement: null,
    scalesJson: JSON.stringify(spec.resource_scales ?? DEFAULT_RESOURCE_SCALES),
    fallbackLiteral: spec.fallback_queues ? textArrayLiteral(spec.fallback_queues) : null,
    command: compileCommand(spec.command),
    argsJson: compileArgs(argNames),
    tail: null,
  };
  return state;
}

/** The COPY text of the columns after pending_upstream, from the tab before to the newline. */
function tail(
  target: BindTarget,
  template: TemplateState,
  placement: Placement,
  maxAttempts: number,
  attributes: Record<string, string> | undefined,
): string {
  const fields = [
    target.workflowId,
    template.arrayId,
    maxAttempts,
    placement.cluster_id,
    placement.queue_id,
    placement.cores,
    placement.memory_bytes,
    placement.runtime_seconds,
    placement.project,
    template.scalesJson,
    template.fallbackLiteral,
    attributes ? JSON.stringify(attributes) : null,
  ];
  let out = "";
  for (const f of fields) out += `\t${copyField(f)}`;
  return `${out}\n`;
}

/** The template's tail, or one of the task's own when it has settings of its own. */
function ownTail(
  task: TaskSpec,
  template: TemplateState,
  placer: Placer,
  target: BindTarget,
  defaultMaxAttempts: number,
): string {
  if (
    task.max_attempts === undefined &&
    task.cluster === undefined &&
    task.resources === undefined &&
    task.attributes === undefined
  ) {
    template.placement ??= placer.place(template.spec, {});
    template.tail ??= tail(target, template, template.placement, defaultMaxAttempts, undefined);
    return template.tail;
  }
  let placement: Placement;
  if (task.cluster !== undefined || task.resources !== undefined) {
    // Its own placement only: the template's alone may fit no queue (checked with each task).
    placement = placer.place(template.spec, task);
  } else {
    template.placement ??= placer.place(template.spec, {});
    placement = template.placement;
  }
  return tail(
    target,
    template,
    placement,
    task.max_attempts ?? defaultMaxAttempts,
    task.attributes,
  );
}

async function createArray(target: BindTarget, spec: TemplateSpec, hash: string): Promise<number> {
  const versionId = await upsertTemplateVersion(target.tx, target.toolId, spec, hash);
  const [row] = await target.tx<{ id: number }[]>`
    insert into task_array (workflow_id, task_template_version_id, max_concurrently_running)
    values (${target.workflowId}, ${versionId}, ${spec.max_concurrently_running ?? null})
    returning id`;
  return row!.id;
}

async function writeEdges(
  target: BindTarget,
  edges: Int32Array,
  count: number,
  onProgress?: () => void,
): Promise<void> {
  if (count === 0) return;
  const writer = await openCopy(
    target.tx.unsafe("copy edge (upstream_id, downstream_id, workflow_id) from stdin"),
  );
  const base = target.firstTaskId;
  const suffix = `\t${target.workflowId}\n`;
  try {
    for (let e = 0; e < count; e++) {
      writer.line(`${base + edges[2 * e]!}\t${base + edges[2 * e + 1]!}${suffix}`);
      if (writer.full) {
        await writer.flush();
        if ((e & 0x3ffff) === 0) onProgress?.();
      }
    }
    await writer.end();
  } catch (err) {
    writer.abort(err);
    throw err;
  }
}

export type { Sql };
