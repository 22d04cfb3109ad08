import type { Sql, TransactionSql } from "postgres";
import type { WfSubmit } from "../../bus/submit.ts";
import { RowBuffer } from "../../core/row-buffer.ts";
import {
  bindCopyStatements,
  FRESH_TASK_COPY,
  insertArray,
  upsertTemplateVersion,
} from "../../store/bind.ts";
import { type ClusterCatalog, specCatalog } from "../../store/catalog.ts";
import { copyField, textArrayLiteral } from "../../store/copy.ts";
import { CopySender } from "../../store/copy-sender.ts";
import { DagReader, type DagSummary } from "../../submission/dag.ts";
import { SpecError } from "../../submission/errors.ts";
import { templateVersionHash } from "../../submission/hash.ts";
import { effectiveScales } from "../../submission/resolve.ts";
import type { TaskSpec, TemplateSpec } from "../../submission/submission.ts";
import { type Placement, Placer } from "./placement.ts";
import { compileArgs, compileCommand, type RenderArgs } from "./render.ts";

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
 *
 * With `refresh` (a resume: no target), each task's hash, command and args are copied
 * into the resume's fresh_task table instead, so that values that are not part of a task's identity
 * (op args) can be taken from the new submission.
 */

export interface BindTarget {
  tx: TransactionSql;
  workflowId: number;
  toolId: number;
  firstTaskId: number;
}

/**
 * Where a resume's pass writes each task's hash, rendered command and args: a temporary
 * table of the transaction (store/bind.ts createFreshTaskTable), compared with the bound
 * tasks afterwards.
 */
export interface RefreshTarget {
  tx: TransactionSql;
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
  /** its own max_attempts, else the workflow's default */
  maxAttempts: number;
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
  resource_scales, fallback_queues, attributes, env, working_dir`;

/** Edge rows gathered before they are sent as one group (one switch of COPY). */
const EDGE_GROUP_BYTES = 6 << 20;

export async function streamDag(
  batches: AsyncIterable<readonly unknown[]>,
  msg: WfSubmit,
  catalog: ClusterCatalog,
  target: BindTarget | null,
  onProgress?: () => void,
  phases: BindPhases = {},
  refresh: RefreshTarget | null = null,
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
    ? new CopySender(target.tx, bindCopyStatements(TASK_COLUMNS))
    : refresh
      ? new CopySender(refresh.tx, { task: FRESH_TASK_COPY, edge: "" })
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
          const state = await templateState(target, spec, byIndex.length, defaultMaxAttempts);
          templates.set(spec.name, state);
          byIndex.push(state);
          continue;
        }
        const task: TaskSpec & { i: number } = line;
        const upstream = task.upstream;
        taskCount++;
        // The announced count sized what was allocated and was checked against the cap.
        if (taskCount > msg.counts.tasks) {
          throw new SpecError(
            `the DAG holds more tasks than the ${msg.counts.tasks} the submission announced (counts.tasks)`,
          );
        }
        edgeCount += upstream.length;
        if (target === null) {
          if (refresh) {
            const template = templates.get(task.template)!;
            taskRows.line(
              `${reader.taskHash(task.i)}\t${template.command(task.args)}\t${template.argsJson(task.args)}\n`,
            );
          }
          continue;
        }
        const id = base + task.i;
        const template = templates.get(task.template)!;
        taskRows.line(
          `${id}\t${task.name}\t${reader.taskHash(task.i)}\t${template.command(task.args)}\t${template.argsJson(task.args)}\t${upstream.length}${ownTail(task, template, placer, target)}`,
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
  defaultMaxAttempts: number,
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
    maxAttempts: spec.max_attempts ?? defaultMaxAttempts,
    command: compileCommand(spec.command),
    argsJson: compileArgs(argNames),
    tail: null,
  };
  return state;
}

/** The per-task columns of a tail that are not where it runs. */
interface TailSettings {
  maxAttempts: number;
  scalesJson: string | null;
  fallbackLiteral: string | null;
  attributes: Record<string, string> | undefined;
  env?: Record<string, string> | undefined;
  workingDir?: string | undefined;
}

/** The COPY text of the columns after pending_upstream, from the tab before to the newline. */
function tail(
  target: BindTarget,
  template: TemplateState,
  placement: Placement,
  settings: TailSettings,
): string {
  const fields = [
    target.workflowId,
    template.arrayId,
    settings.maxAttempts,
    placement.cluster_id,
    placement.queue_id,
    placement.cores,
    placement.memory_bytes,
    placement.runtime_seconds,
    placement.project,
    settings.scalesJson,
    settings.fallbackLiteral,
    settings.attributes ? JSON.stringify(settings.attributes) : null,
    settings.env ? JSON.stringify(settings.env) : null,
    settings.workingDir ?? null,
  ];
  let out = "";
  for (const f of fields) out += `\t${copyField(f)}`;
  return `${out}\n`;
}

/**
 * The template's tail, or one of the task's own when it has settings of its own: each
 * setting by precedence task > template > workflow default (submission/resolve.ts).
 */
function ownTail(
  task: TaskSpec,
  template: TemplateState,
  placer: Placer,
  target: BindTarget,
): string {
  if (
    task.max_attempts === undefined &&
    task.cluster === undefined &&
    task.resources === undefined &&
    task.attributes === undefined &&
    task.resource_scales === undefined &&
    task.fallback_queues === undefined &&
    task.working_dir === undefined &&
    task.env === undefined
  ) {
    template.placement ??= placer.place(template.spec, {});
    template.tail ??= tail(target, template, template.placement, {
      maxAttempts: template.maxAttempts,
      scalesJson: template.scalesJson,
      fallbackLiteral: template.fallbackLiteral,
      attributes: undefined,
    });
    return template.tail;
  }
  let placement: Placement;
  if (
    task.cluster !== undefined ||
    task.resources !== undefined ||
    task.fallback_queues !== undefined
  ) {
    // Its own placement only: the template's alone may fit no queue (checked with each task).
    placement = placer.place(template.spec, task);
  } else {
    template.placement ??= placer.place(template.spec, {});
    placement = template.placement;
  }
  const scales = task.resource_scales && effectiveScales(template.spec, task);
  return tail(target, template, placement, {
    maxAttempts: task.max_attempts ?? template.maxAttempts,
    scalesJson: scales ? JSON.stringify(scales) : template.scalesJson,
    fallbackLiteral: task.fallback_queues
      ? textArrayLiteral(task.fallback_queues)
      : template.fallbackLiteral,
    attributes: task.attributes,
    env: task.env,
    workingDir: task.working_dir,
  });
}

async function createArray(target: BindTarget, spec: TemplateSpec, hash: string): Promise<number> {
  const versionId = await upsertTemplateVersion(target.tx, target.toolId, spec, hash);
  return insertArray(
    target.tx,
    target.workflowId,
    versionId,
    spec.max_concurrently_running ?? null,
    { env: spec.env, working_dir: spec.working_dir },
  );
}

export type { Sql };
