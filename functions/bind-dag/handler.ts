/**
 * bind-dag — turns a submission into rows.
 *
 * Subscribes: wf.submit.<owner>. Publishes: wf.bound (msg id `bound-<run>`), the answer on
 * wf.reply.<owner>.<submission> (core NATS).
 * Identity: the owner is the token of the subject (which only they may publish on),
 * never the message body; the DAG must be in the owner's own bucket, and a workflow
 * of someone else is never resumed or resubmitted.
 * Idempotency: the submission id is unique on workflow_run; a redelivered or
 * re-published submit finds its run and only answers again. The whole bind of a
 * workflow is one transaction: a crash mid-bind leaves nothing behind.
 * Invalid submissions are answered with the problems and nothing is written; a bind that
 * fails for other reasons is retried, and after its last try the workflow is recorded
 * ABORTED with the reason.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Sql } from "postgres";
import type { z } from "zod";
import { ownerOf } from "../../bus/contract.ts";
import { Contracts } from "../../bus/contracts.ts";
import { Events } from "../../bus/events.ts";
import { openBucket, readObject } from "../../bus/objects.ts";
import { personStreams } from "../../bus/person-streams.ts";
import type { SubmitReply, WfSubmit } from "../../bus/submit.ts";
import { userFromToken } from "../../core/identity.ts";
import { CAPS } from "../../core/limits.ts";
import { capturedEnvironmentProblem, captureEnvironment } from "../../core/task-env.ts";
import {
  allocateTaskIds,
  backendPid,
  createFreshTaskTable,
  type ExistingWorkflow,
  findRunBySubmission,
  findWorkflowByIdentity,
  insertAbortedWorkflow,
  insertArrayEdges,
  insertFirstRun,
  insertWorkflow,
  latestRunId,
  lockWorkflowStatus,
  mergeWorkflowAttributes,
  refreshCommands,
  setDagHashes,
  upsertToolVersion,
} from "../../store/bind.ts";
import { type ClusterCatalog, loadCatalog } from "../../store/catalog.ts";
import { saveWorkflowEnvironment } from "../../store/environment.ts";
import { activeWorkflowCount } from "../../store/people.ts";
import { resumeWorkflow } from "../../store/resume.ts";
import { checkWorkflowText } from "../../submission/check.ts";
import { Problems, SpecError } from "../../submission/errors.ts";
import { workflowIdentityHash } from "../../submission/hash.ts";
import { checkName } from "../../submission/names.ts";
import { defineFunction, type HandlerContext } from "../context.ts";
import { streamDag } from "./bind.ts";
import { MalformedLineError, ndjsonBatches } from "./read-lines.ts";

const MAX_DELIVER = 5;

/** What one submission and one person may take (core/config.ts settings). */
export interface BindCaps {
  /** tasks in one workflow */
  maxTasks: number;
  /** bytes of a DAG once decompressed */
  dagMaxBytes: number;
  /** workflows of one person not yet ended; 0 = no cap */
  maxActiveWorkflows: number;
}

export const DEFAULT_BIND_CAPS: BindCaps = {
  maxTasks: CAPS.tasksPerWorkflow,
  dagMaxBytes: CAPS.dagBytes,
  maxActiveWorkflows: CAPS.activeWorkflowsPerPerson,
};

export function createBindDag(options: Partial<BindCaps> = {}) {
  const caps: BindCaps = { ...DEFAULT_BIND_CAPS, ...options };
  return defineFunction({
    name: "bind-dag",
    // A million-task bind takes seconds; working() keeps it ours meanwhile.
    ackWaitMs: 15_000,
    maxDeliver: MAX_DELIVER,
    handle: (msg, ctx) => handleSubmit(msg, ctx, caps),
  });
}

export const bindDag = createBindDag();

async function handleSubmit(
  msg: { data: WfSubmit; actualSubject: string },
  ctx: HandlerContext,
  caps: BindCaps,
): Promise<void> {
  const owner = ownerOf(Contracts.submit, msg.actualSubject);
  // Who submitted is the subject's token; what the body says is only recorded.
  const sub: Submission = { ...msg.data, owner, user: userFromToken(owner), caps };
  const log = ctx.log.child({ submission: sub.submission_id, owner });
  const reply = (answer: SubmitReply) =>
    ctx.emit(Events.submitReply, answer, { owner, submission: sub.submission_id });
  const sql = ctx.sql;

  const done = await findRunBySubmission(sql, sub.submission_id);
  if (done) {
    log.debug({ workflow: done.workflow_id }, "submission already bound");
    await announce(ctx, done.workflow_id, done.run_id);
    reply({
      ok: true,
      workflow_id: done.workflow_id,
      run_id: done.run_id,
      status: done.status,
      outcome: done.run_count > 1 ? "resumed" : "new",
    });
    return;
  }
  try {
    const answer = await bindSubmission(sql, ctx, sub);
    if (answer.ok) await announce(ctx, answer.workflow_id, answer.run_id);
    reply(answer);
    if (answer.ok || answer.reason !== "failed") await dropObject(ctx, sub);
    log.info({ answer }, "submission answered");
  } catch (err) {
    if (err instanceof SpecError || err instanceof MalformedLineError) {
      reply({ ok: false, reason: "invalid", error: err.message });
      await dropObject(ctx, sub);
      log.info({ problems: err.message.slice(0, 500) }, "submission rejected");
      return;
    }
    if (ctx.delivery < MAX_DELIVER) throw err;
    const workflowId = await recordAborted(sql, sub, (err as Error).message).catch(() => undefined);
    reply({
      ok: false,
      reason: "failed",
      error: `binding failed: ${(err as Error).message}`,
      workflow_id: workflowId,
    });
    log.error({ err, workflowId }, "bind failed for good, workflow aborted");
  }
}

async function announce(ctx: HandlerContext, workflowId: number, runId: number): Promise<void> {
  await ctx.publish(Contracts.bound, { v: 1, workflow_id: workflowId, run_id: runId });
}

/** A submission with its owner, taken from the subject it came on, and the caps it is held to. */
type Submission = WfSubmit & { owner: string; caps: BindCaps };

async function dropObject(ctx: HandlerContext, sub: Submission): Promise<void> {
  if (sub.object.bucket !== personStreams(sub.owner).bucket) return;
  const store = await openBucket(ctx.nc, sub.object.bucket);
  await store.delete(sub.object.name).catch(() => {});
}

function identityOf(sub: WfSubmit): string {
  // Without args every submit is a new workflow: the submission id makes it unique.
  return sub.workflow.args === undefined
    ? workflowIdentityHash(sub.tool.name, sub.tool.version, { submission: sub.submission_id })
    : workflowIdentityHash(sub.tool.name, sub.tool.version, sub.workflow.args);
}

function objectLines(ctx: HandlerContext, sub: Submission): AsyncIterable<unknown[]> {
  return (async function* () {
    const own = personStreams(sub.owner).bucket;
    if (sub.object.bucket !== own) {
      throw new SpecError(
        `object bucket must be the submitter's "${own}", not "${sub.object.bucket}"`,
      );
    }
    const store = await openBucket(ctx.nc, sub.object.bucket);
    const info = await store.info(sub.object.name);
    if (!info) throw new SpecError(`the DAG object "${sub.object.name}" does not exist`);
    if (sub.object.digest && info.digest !== sub.object.digest) {
      throw new SpecError(`the DAG object "${sub.object.name}" does not match its digest`);
    }
    yield* ndjsonBatches(readObject(store, sub.object.name), {
      maxBytes: sub.caps.dagMaxBytes,
      maxLineBytes: CAPS.dagLineBytes,
    });
  })();
}

async function bindSubmission(
  sql: Sql,
  ctx: HandlerContext,
  sub: Submission,
): Promise<SubmitReply> {
  const problems = new Problems();
  // Checked by the clients; a submission may come from elsewhere.
  problems.addIf(checkName("tool", sub.tool.name));
  checkWorkflowText(sub.tool, sub.workflow, problems);
  problems.throwIfAny();
  if (sub.counts.tasks > sub.caps.maxTasks) {
    throw new SpecError(
      `counts.tasks: the workflow has ${sub.counts.tasks} tasks, more than the ${sub.caps.maxTasks} a workflow may have`,
    );
  }
  const identity = identityOf(sub);
  const catalog = await loadCatalog(sql);
  const existing = await findWorkflowByIdentity(sql, identity);
  if (existing && existing.owner !== sub.owner) {
    const owner = existing.owner
      ? userFromToken(existing.owner)
      : "no one (an admin may act on it)";
    return {
      ok: false,
      reason: "conflict",
      error: `workflow ${existing.id} with this tool and these args belongs to ${owner}`,
      workflow_id: existing.id,
    };
  }
  if (existing) {
    if (sub.resume && (existing.status === "FAILED" || existing.status === "HALTED")) {
      return resumeExisting(sql, ctx, sub, catalog, existing);
    }
    const summary = await streamDag(objectLines(ctx, sub), sub, catalog, null, () => ctx.working());
    if (summary.dagHash !== existing.dag_hash || summary.tasksetHash !== existing.taskset_hash) {
      return differentDag(existing);
    }
    return resubmit(sql, existing, sub.hold);
  }

  const active = sub.caps.maxActiveWorkflows > 0 ? await activeWorkflowCount(sql, sub.owner) : 0;
  if (sub.caps.maxActiveWorkflows > 0 && active >= sub.caps.maxActiveWorkflows) {
    return {
      ok: false,
      reason: "invalid",
      error: `${sub.user} has ${active} workflows not yet ended, the most one person may have (${sub.caps.maxActiveWorkflows}); wait for some to end or stop them`,
    };
  }
  // Debug log: milliseconds per phase, and the CPU time of this process and of the
  // Postgres backend (when on this host), the two sides of the pipeline.
  const debug = ctx.log.isLevelEnabled("debug");
  const phases: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  let backend: { pid: number; cpu0: number } | undefined;
  let t = performance.now();
  const firstTaskId = await allocateTaskIds(sql, sub.counts.tasks);
  const answer = await sql.begin(async (tx) => {
    if (debug) {
      const pid = await backendPid(tx);
      backend = { pid, cpu0: processCpuMs(pid) };
    }
    const { toolId, toolVersionId } = await upsertToolVersion(tx, sub.tool);
    const workflowId = await insertWorkflow(tx, {
      toolVersionId,
      workflow: sub.workflow,
      identity,
      status: sub.hold ? "REGISTERING" : "QUEUED",
      user: sub.user,
      owner: sub.owner,
      submissionId: sub.submission_id,
      taskCount: sub.counts.tasks,
    });
    await saveWorkflowEnvironment(tx, workflowId, ...environmentOf(sub));
    const runId = await insertFirstRun(tx, {
      workflowId,
      user: sub.user,
      host: sub.host,
      submissionId: sub.submission_id,
      held: sub.hold,
    });
    phases["prepare"] = performance.now() - t;
    t = performance.now();
    const summary = await streamDag(
      objectLines(ctx, sub),
      sub,
      catalog,
      { tx, workflowId, toolId, firstTaskId },
      () => ctx.working(),
      phases,
    );
    phases["stream"] = performance.now() - t;
    if (backend) phases["postgres cpu"] = processCpuMs(backend.pid) - backend.cpu0;
    t = performance.now();
    await setDagHashes(tx, workflowId, summary);
    await insertArrayEdges(tx, workflowId, summary.arrayEdges);
    return {
      ok: true,
      workflow_id: workflowId,
      run_id: runId,
      status: sub.hold ? "REGISTERING" : "QUEUED",
      outcome: "new",
    } as const;
  });
  phases["commit"] = performance.now() - t;
  if (debug) {
    const cpu = process.cpuUsage(cpu0);
    phases["bind-dag cpu"] = (cpu.user + cpu.system) / 1000;
    ctx.log.debug({ tasks: sub.counts.tasks, phases: roundPhases(phases) }, "bind phases (ms)");
  }
  return answer;
}

function roundPhases(phases: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v)]));
}

/** CPU time (user + system) of a process on this host, in ms; NaN when unknown. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

function differentDag(existing: ExistingWorkflow): SubmitReply {
  return {
    ok: false,
    reason: "conflict",
    workflow_id: existing.id,
    error: `workflow ${existing.id} ("${existing.name}") already exists with these workflow args but a different DAG; change the workflow args to submit a new workflow`,
  };
}

/**
 * A resubmission of the same DAG that resumes nothing: DONE (nothing to run), held and
 * held again, still running, or no --resume.
 */
async function resubmit(sql: Sql, existing: ExistingWorkflow, hold: boolean): Promise<SubmitReply> {
  // REGISTERING is a run bound with --hold and not released. Binding it again with
  // --hold is the same bind, as Jobmon's bind() of an existing workflow: a client that
  // died between bind and run binds again and releases it.
  if (existing.status === "DONE" || (existing.status === "REGISTERING" && hold)) {
    const latest = await latestRunId(sql, existing.id);
    return {
      ok: true,
      workflow_id: existing.id,
      run_id: latest!,
      status: existing.status,
      outcome: "existing",
    };
  }
  if (existing.status !== "FAILED" && existing.status !== "HALTED") {
    return {
      ok: false,
      reason: "conflict",
      workflow_id: existing.id,
      error: `workflow ${existing.id} ("${existing.name}") is ${existing.status}: it is still running; stop it first or wait for it to end`,
    };
  }
  return {
    ok: false,
    reason: "conflict",
    workflow_id: existing.id,
    error: `workflow ${existing.id} ("${existing.name}") already exists and is ${existing.status}; resume it with --resume (TypeScript: run({ resume: true }))`,
  };
}

/** The most changed task ids a reply lists (a NATS message is at most 1 MB). */
const MAX_LISTED_CHANGES = 50_000;

/**
 * Resumes a FAILED or HALTED workflow from a new submission of it, in one transaction:
 * the DAG is read once, checked against the stored hashes, and the tasks that will run
 * again take the submission's commands and args (op args may have changed); the
 * workflow's attributes take the new values. A different DAG rolls everything back.
 */
async function resumeExisting(
  sql: Sql,
  ctx: HandlerContext,
  sub: Submission,
  catalog: ClusterCatalog,
  existing: ExistingWorkflow,
): Promise<SubmitReply> {
  const outcome = await sql.begin(async (tx) => {
    if ((await lockWorkflowStatus(tx, existing.id)) !== existing.status)
      throw new Error("workflow changed while resuming; retrying");
    await createFreshTaskTable(tx);
    const summary = await streamDag(
      objectLines(ctx, sub),
      sub,
      catalog,
      null,
      () => ctx.working(),
      {},
      { tx },
    );
    if (summary.dagHash !== existing.dag_hash || summary.tasksetHash !== existing.taskset_hash) {
      return { conflict: true } as const;
    }
    // Reset first: the commands refreshed are those of every task that will run again.
    const resumed = await resumeWorkflow(tx, existing.id, {
      cold: sub.reset_running,
      keepResources: sub.keep_resources,
      hold: sub.hold,
      user: sub.user,
      host: sub.host,
      submissionId: sub.submission_id,
    });
    const changed = await refreshCommands(tx, existing.id);
    await saveWorkflowEnvironment(tx, existing.id, ...environmentOf(sub));
    await mergeWorkflowAttributes(tx, existing.id, sub.workflow.attributes);
    return { conflict: false, ...resumed, changed } as const;
  });
  if (outcome.conflict) return differentDag(existing);
  for (const k of outcome.killed) {
    await ctx.publishFor(
      sub.owner,
      Contracts.kill,
      { v: 1, instance_ids: k.instance_ids, reason: "cold resume" },
      k.cluster,
    );
  }
  return {
    ok: true,
    workflow_id: existing.id,
    run_id: outcome.runId,
    status: sub.hold ? "REGISTERING" : "QUEUED",
    outcome: "resumed",
    changed_commands: outcome.changed.slice(0, MAX_LISTED_CHANGES),
    changed_count: outcome.changed.length,
  };
}

/** Records a workflow whose bind failed for good, so that users can see why. */
/**
 * The workflow's environment: the submitter's as captured (what must never cross is left
 * out again here: a submission may not come from our client), the workflow's `env` over
 * it; and its working folder.
 */
function environmentOf(sub: WfSubmit): [Record<string, string>, string | null] {
  const env = { ...captureEnvironment(sub.environment ?? {}), ...sub.workflow.env };
  const tooLarge = capturedEnvironmentProblem(env);
  if (tooLarge) throw new SpecError(tooLarge);
  return [env, sub.workflow.working_dir ?? null];
}

async function recordAborted(sql: Sql, sub: Submission, reason: string): Promise<number> {
  return sql.begin(async (tx) => {
    const { toolVersionId } = await upsertToolVersion(tx, sub.tool);
    // A unique identity of its own: the real identity stays free for a new submit.
    return insertAbortedWorkflow(tx, {
      toolVersionId,
      name: sub.workflow.name,
      args: sub.workflow.args ?? {},
      identity: `aborted-${sub.submission_id}-${randomBytes(4).toString("hex")}`,
      user: sub.user,
      owner: sub.owner,
      submissionId: sub.submission_id,
      reason,
    });
  });
}

export type { z };
