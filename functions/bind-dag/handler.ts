/**
 * bind-dag — turns a submission into rows.
 *
 * Subscribes: wf.submit. Publishes: wf.bound (msg id `bound-<run>`), the answer on
 * wf.submit.reply.<submission> (core NATS).
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
import { Buckets, openBucket, readObject } from "../../bus/objects.ts";
import { defineFunction, type HandlerContext } from "../../bus/runtime.ts";
import { Subjects, submitReplySubject } from "../../bus/subjects.ts";
import { type SubmitReply, WfSubmit } from "../../bus/submit.ts";
import { SpecError } from "../../spec/errors.ts";
import { workflowIdentityHash } from "../../spec/hash.ts";
import { loadCatalog } from "../../store/catalog.ts";
import { resumeWorkflow } from "../../store/resume.ts";
import { streamDag } from "./bind.ts";
import { MalformedLineError, ndjsonBatches } from "./read-lines.ts";
import {
  allocateTaskIds,
  findRunBySubmission,
  findWorkflowByIdentity,
  insertArrayEdges,
  upsertToolVersion,
} from "./sql.ts";

const MAX_DELIVER = 5;

export const bindDag = defineFunction({
  name: "bind-dag",
  schemas: { [Subjects.submit]: WfSubmit },
  // A million-task bind takes seconds; working() keeps it ours meanwhile.
  ackWaitMs: 15_000,
  maxDeliver: MAX_DELIVER,
  async handle(msg, ctx) {
    const sub = msg.data;
    const log = ctx.log.child({ submission: sub.submission_id });
    const reply = (answer: SubmitReply) => ctx.emit(submitReplySubject(sub.submission_id), answer);
    const sql = ctx.sql!;

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
      const workflowId = await recordAborted(sql, sub, (err as Error).message).catch(
        () => undefined,
      );
      reply({
        ok: false,
        reason: "failed",
        error: `binding failed: ${(err as Error).message}`,
        workflow_id: workflowId,
      });
      log.error({ err, workflowId }, "bind failed for good, workflow aborted");
    }
  },
});

async function announce(ctx: HandlerContext, workflowId: number, runId: number): Promise<void> {
  await ctx.publish(
    Subjects.bound,
    { v: 1, workflow_id: workflowId, run_id: runId },
    { msgID: `bound-${runId}` },
  );
}

async function dropObject(ctx: HandlerContext, sub: WfSubmit): Promise<void> {
  const store = await openBucket(ctx.nc, sub.object.bucket);
  await store.delete(sub.object.name).catch(() => {});
}

function identityOf(sub: WfSubmit): string {
  // Without args every submit is a new workflow: the submission id makes it unique.
  return sub.workflow.args === undefined
    ? workflowIdentityHash(sub.tool.name, sub.tool.version, { submission: sub.submission_id })
    : workflowIdentityHash(sub.tool.name, sub.tool.version, sub.workflow.args);
}

function objectLines(ctx: HandlerContext, sub: WfSubmit): AsyncIterable<unknown[]> {
  return (async function* () {
    if (sub.object.bucket !== Buckets.dags) {
      throw new SpecError(`object bucket must be "${Buckets.dags}", not "${sub.object.bucket}"`);
    }
    const store = await openBucket(ctx.nc, sub.object.bucket);
    const info = await store.info(sub.object.name);
    if (!info) throw new SpecError(`the DAG object "${sub.object.name}" does not exist`);
    if (sub.object.digest && info.digest !== sub.object.digest) {
      throw new SpecError(`the DAG object "${sub.object.name}" does not match its digest`);
    }
    yield* ndjsonBatches(readObject(store, sub.object.name));
  })();
}

async function bindSubmission(sql: Sql, ctx: HandlerContext, sub: WfSubmit): Promise<SubmitReply> {
  const identity = identityOf(sub);
  const catalog = await loadCatalog(sql);
  const existing = await findWorkflowByIdentity(sql, identity);
  if (existing) {
    const summary = await streamDag(objectLines(ctx, sub), sub, catalog, null, () => ctx.working());
    if (summary.dagHash !== existing.dag_hash || summary.tasksetHash !== existing.taskset_hash) {
      return {
        ok: false,
        reason: "conflict",
        workflow_id: existing.id,
        error: `workflow ${existing.id} ("${existing.name}") already exists with these workflow args but a different DAG; change the workflow args to submit a new workflow`,
      };
    }
    return resubmit(sql, ctx, sub, existing);
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
      const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      backend = { pid: row!.pid, cpu0: processCpuMs(row!.pid) };
    }
    const { toolId, toolVersionId } = await upsertToolVersion(tx, sub.tool);
    const w = sub.workflow;
    const [wf] = await tx<{ id: number }[]>`
      insert into workflow (tool_version_id, name, args, identity_hash, dag_hash, taskset_hash, status,
        fail_fast, max_concurrently_running, default_cluster, attributes, submitted_by, submission_id,
        timeout_seconds, task_count)
      values (${toolVersionId}, ${w.name}, ${tx.json(w.args ?? {})}, ${identity}, '', '', 'QUEUED',
        ${w.fail_fast}, ${w.max_concurrently_running ?? null}, ${w.default_cluster},
        ${w.attributes ? tx.json(w.attributes) : null}, ${sub.user}, ${sub.submission_id},
        ${w.timeout_seconds ?? null}, ${sub.counts.tasks})
      returning id`;
    const workflowId = wf!.id;
    const [run] = await tx<{ id: number }[]>`
      insert into workflow_run (workflow_id, user_name, host, submission_id)
      values (${workflowId}, ${sub.user}, ${sub.host}, ${sub.submission_id}) returning id`;
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
    await tx`
      update workflow set dag_hash = ${summary.dagHash}, taskset_hash = ${summary.tasksetHash}
      where id = ${workflowId}`;
    await insertArrayEdges(tx, workflowId, summary.arrayEdges);
    return {
      ok: true,
      workflow_id: workflowId,
      run_id: run!.id,
      status: "QUEUED",
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

async function resubmit(
  sql: Sql,
  ctx: HandlerContext,
  sub: WfSubmit,
  existing: { id: number; status: string; name: string },
): Promise<SubmitReply> {
  const [latest] = await sql<{ id: number }[]>`
    select id from workflow_run where workflow_id = ${existing.id} order by id desc limit 1`;
  if (existing.status === "DONE") {
    return {
      ok: true,
      workflow_id: existing.id,
      run_id: latest!.id,
      status: "DONE",
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
  if (!sub.resume) {
    return {
      ok: false,
      reason: "conflict",
      workflow_id: existing.id,
      error: `workflow ${existing.id} ("${existing.name}") already exists and is ${existing.status}; resume it with --resume (TypeScript: run({ resume: true }))`,
    };
  }
  const { runId, killed } = await sql.begin(async (tx) => {
    const [locked] = await tx<{ status: string }[]>`
      select status from workflow where id = ${existing.id} for update`;
    if (locked?.status !== existing.status)
      throw new Error("workflow changed while resuming; retrying");
    return resumeWorkflow(tx, existing.id, {
      cold: sub.reset_running,
      user: sub.user,
      host: sub.host,
      submissionId: sub.submission_id,
    });
  });
  for (const k of killed) {
    await ctx.publish(`${Subjects.ctl}.${k.cluster}.kill`, {
      v: 1,
      instance_ids: k.instance_ids,
      reason: "cold resume",
    });
  }
  return {
    ok: true,
    workflow_id: existing.id,
    run_id: runId,
    status: "QUEUED",
    outcome: "resumed",
  };
}

/** Records a workflow whose bind failed for good, so that users can see why. */
async function recordAborted(sql: Sql, sub: WfSubmit, reason: string): Promise<number> {
  return sql.begin(async (tx) => {
    const { toolVersionId } = await upsertToolVersion(tx, sub.tool);
    // A unique identity of its own: the real identity stays free for a new submit.
    const identity = `aborted-${sub.submission_id}-${randomBytes(4).toString("hex")}`;
    const [wf] = await tx<{ id: number }[]>`
      insert into workflow (tool_version_id, name, args, identity_hash, dag_hash, taskset_hash, status,
        submitted_by, submission_id, error)
      values (${toolVersionId}, ${sub.workflow.name}, ${tx.json(sub.workflow.args ?? {})}, ${identity}, '', '',
        'ABORTED', ${sub.user}, ${sub.submission_id}, ${reason.slice(0, 4000)})
      returning id`;
    await tx`insert into workflow_status_audit (workflow_id, status) values (${wf!.id}, 'ABORTED')`;
    return wf!.id;
  });
}

export type { z };
