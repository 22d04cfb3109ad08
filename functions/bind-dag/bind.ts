import type { Sql, TransactionSql } from "postgres";
import type { WfSubmit } from "../../bus/submit.ts";
import { copyField, RowBuffer, textArrayLiteral } from "../../db/copy.ts";
import { DagReader, type DagSummary } from "../../spec/dag.ts";
import { SpecError } from "../../spec/errors.ts";
import { templateVersionHash } from "../../spec/hash.ts";
import type { TaskSpec, TemplateSpec } from "../../spec/submission.ts";
import { type ClusterCatalog, specCatalog } from "../../store/catalog.ts";
import { CopySender } from "./copy-sender.ts";
import { type Placement, Placer } from "./placement.ts";
import { compileArgs, compileCommand, type RenderArgs } from "./render.ts";
import { upsertTemplateVersion } from "./sql.ts";

/**
 * Streams a submission's DAG lines into Postgres: templates (upserted) and their arrays
 * first, then every task and edge by COPY, task ids base + i. Validation
 * runs on the same pass; a problem throws SpecError and the caller's transaction rolls
 * back, so nothing of an invalid submission is ever committed. With `tx` absent it only
 * validates and hashes (a resubmission compares hashes before deciding anything).
 *
 * Lines come in batches and are handled synchronously, rows encoded straight into COPY
 * text (~1 MB Buffers); the only waits are for the next batch and for Postgres when it
 * falls behind by more than the sender's queue. Edge rows are encoded with their task and
 * sent in groups of a few MB between task chunks (CopySender), so that Postgres inserts
 * them while tasks are still being read.
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
  /** edges counted per (upstream array, downstream array): the template-level DAG */
  arrayEdges: ArrayEdge[];
  dagHash: string;
  tasksetHash: string;
}

/** Milliseconds spent per phase of a bind, for the debug log (a phase may repeat). */
export type BindPhases = Record<string, number>;

export interface ArrayEdge {
  upstreamArrayId: number;
  downstreamArrayId: number;
  count: number;
}

interface TemplateState {
  spec: TemplateSpec;
  arrayId: number;
  /** its place among the submission's templates, for the template-level edge counts */
  index: number;
  /**
   * Where its tasks without settings of their own run. Placed at its first task, once
   * DagReader has checked the template's resources against the catalog with that task
   * (an unknown queue is a SpecError there, not an error of the placer).
   */
  placement: Placement | null;
  /**
   * Null when the template has none: null means the default scales (retry merges a
   * task's scales over DEFAULT_SCALES), and a jsonb to parse on each of a million rows
   * was ~5% of Postgres's work in the bind's COPY.
   */
  scalesJson: string | null;
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

/** Edge rows gathered before they are sent as one group (one switch of COPY). */
const EDGE_GROUP_BYTES = 6 << 20;

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
  // Its first COPY starts with the first task: template lines run queries of their own.
  const sender = target
    ? new CopySender(target.tx, {
        task: `copy task (${TASK_COLUMNS}) from stdin`,
        edge: "copy edge (upstream_id, downstream_id, workflow_id) from stdin",
      })
    : null;
  const taskRows = new RowBuffer();
  const edgeRows = new RowBuffer();
  let edgeGroup: { chunk: Buffer; rows: number }[] = [];
  let edgeGroupBytes = 0;
  const sendEdges = async () => {
    if (edgeRows.size > 0) edgeGroup.push(edgeRows.take());
    const group = edgeGroup;
    edgeGroup = [];
    edgeGroupBytes = 0;
    for (const { chunk, rows } of group) await sender!.push("edge", chunk, rows);
  };
  // The template of each task seen so far (upstream indices are < i, so always known),
  // and edge counts per template pair keyed upstream × 2^16 + downstream.
  const templateOfTask = new Uint16Array(msg.counts.tasks);
  const templateEdges = new Map<number, number>();
  const byIndex: TemplateState[] = [];
  const base = target?.firstTaskId ?? 0;
  const edgeSuffix = `\t${target?.workflowId ?? 0}\n`;
  let taskCount = 0;
  let edgeCount = 0;
  let lastProgress = 0;
  let summary: DagSummary;

  try {
    for await (const batch of batches) {
      phase("read");
      for (let b = 0; b < batch.length; b++) {
        const line = reader.add(batch[b]);
        if (line.kind === "template") {
          const { kind: _, ...spec } = line;
          if (byIndex.length >= 1 << 16) throw new SpecError("more than 65,536 templates");
          const state = await templateState(target, spec, byIndex.length);
          templates.set(spec.name, state);
          byIndex.push(state);
          continue;
        }
        const task: TaskSpec & { i: number } = line;
        const upstream = task.upstream;
        taskCount++;
        edgeCount += upstream.length;
        if (target === null) continue;
        const id = base + task.i;
        const template = templates.get(task.template)!;
        taskRows.line(
          `${id}\t${task.name}\t${reader.taskHash(task.i)}\t${template.command(task.args)}\t${template.argsJson(task.args)}\t${upstream.length}${ownTail(task, template, placer, target, defaultMaxAttempts)}`,
        );
        templateOfTask[task.i] = template.index;
        if (upstream.length > 0) {
          let text = "";
          const downKey = template.index;
          for (let k = 0; k < upstream.length; k++) {
            const up = upstream[k]!;
            text += `${base + up}\t${id}${edgeSuffix}`;
            const key = templateOfTask[up]! * 65536 + downKey;
            templateEdges.set(key, (templateEdges.get(key) ?? 0) + 1);
          }
          edgeRows.line(text, upstream.length);
        }
      }
      phase("validate+encode");
      if (sender) {
        if (taskRows.full) {
          const { chunk, rows } = taskRows.take();
          await sender.push("task", chunk, rows);
        }
        if (edgeRows.full) {
          const taken = edgeRows.take();
          edgeGroup.push(taken);
          edgeGroupBytes += taken.chunk.length;
          if (edgeGroupBytes >= EDGE_GROUP_BYTES) await sendEdges();
        }
        phase("queue wait");
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
    if (sender) {
      const { chunk, rows } = taskRows.take();
      await sender.push("task", chunk, rows);
      await sendEdges();
      phase("queue wait");
      await sender.close();
      phase("copy end");
      phases["copy switches"] = sender.switchMs;
    }
  } catch (err) {
    // An open COPY must end before the transaction can roll back.
    await sender?.abort(err);
    throw err;
  }
  const arrayEdges = [...templateEdges].map(([key, count]) => ({
    upstreamArrayId: byIndex[Math.floor(key / 65536)]!.arrayId,
    downstreamArrayId: byIndex[key % 65536]!.arrayId,
    count,
  }));
  return {
    taskCount,
    edgeCount,
    arrayEdges,
    dagHash: summary.dagHash,
    tasksetHash: summary.taskSetHash,
  };
}

async function templateState(
  target: BindTarget | null,
  spec: TemplateSpec,
  index: number,
): Promise<TemplateState> {
  const hash = templateVersionHash(spec);
  const arrayId = target ? await createArray(target, spec, hash) : 0;
  const argNames = [...spec.node_args, ...spec.task_args, ...spec.op_args];
  const state: TemplateState = {
    spec,
    arrayId,
    index,
    placement: null,
    scalesJson: spec.resource_scales ? JSON.stringify(spec.resource_scales) : null,
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

export type { Sql };
