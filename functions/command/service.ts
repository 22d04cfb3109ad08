/**
 * command — the state-changing commands of the CLI and the GUI (bus/commands.ts).
 *
 * Subscribes: cmd.<caller>.<verb> (core NATS request/reply, queue group `commands`).
 * Publishes: the answer (after commit); ctl.<cluster>.<owner>.kill for instances to kill,
 *   ctl.<cluster>.<owner>.limit when a workflow's limits changed;
 *   sched.wake when tasks may run; events evt.workflow.<wf> / evt.tasks.<wf>.
 * Idempotency: each command runs in one transaction under the workflow's row lock and
 *   states its precondition (stopping a HALTED workflow answers as a no-op; resuming a
 *   RUNNING one is refused).
 * Who: the caller is the subject's token; only a workflow's owner or an admin may
 *   change it, anyone else is refused with the owner's name.
 */
import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import type { z } from "zod";
import {
  CommandService,
  type ConcurrencyCommand,
  type ResumeCommand,
  type SetStatusCommand,
  type StopCommand,
} from "../../bus/commands.ts";
import { Contracts } from "../../bus/contracts.ts";
import { PendingEvents } from "../../bus/events.ts";
import { Refused, type RunningService, serve } from "../../bus/serve.ts";
import { userFromToken } from "../../core/identity.ts";
import type { Logger } from "../../core/log.ts";
import { meant } from "../../core/suggest.ts";
import {
  activeOnes,
  addTaskAttributes,
  hasLiveInstances,
  lockWorkflow,
  markDone,
  markRegistering,
  setTemplateLimit,
  setWorkflowLimit,
  type Tx,
  taskClosure,
  taskWorkflow,
  templateNames,
  workflowStatus,
} from "../../store/commands.ts";
import { retryConflicts } from "../../store/conflicts.ts";
import { releaseDownstream } from "../../store/downstream.ts";
import { haltTasks, type KillList, setWorkflowStatus } from "../../store/halt.ts";
import { currentLimits } from "../../store/limits.ts";
import { isAdmin } from "../../store/people.ts";
import { releaseWorkflow, resetWorkflow, resumeWorkflow } from "../../store/resume.ts";
import { finishIfAllDone, settleWorkflows } from "../../store/workflow-end.ts";
import { type FunctionContext, functionContext } from "../context.ts";
import { publishKills, publishLimits } from "../owners.ts";

/** A command's context: the database, and who asks (from the request's subject). */
type Deps = Pick<FunctionContext, "sql"> & { caller: string };

/**
 * Locks a workflow for a command of `caller`: refused, naming the owner, unless the
 * caller owns it or is an admin.
 */
async function lockOwned(tx: Tx, workflowId: number, caller: string) {
  const wf = await lockWorkflow(tx, workflowId);
  if (!wf) throw new Refused(`workflow ${workflowId} does not exist`);
  await mayAct(tx, wf, caller);
  return wf;
}

async function mayAct(
  tx: Tx,
  wf: { id: number; owner: string | null },
  caller: string,
): Promise<void> {
  if (wf.owner === caller || (await isAdmin(tx, caller))) return;
  const owner = wf.owner === null ? "no one: only an admin may change it" : userFromToken(wf.owner);
  throw new Refused(`workflow ${wf.id} belongs to ${owner}`);
}

type Endpoints = typeof CommandService.endpoints;
type Request<K extends keyof Endpoints> = z.output<Endpoints[K]["request"]>;
type Answer<K extends keyof Endpoints> = NonNullable<Endpoints[K]["answer"]>;

/** A command's answer and what to do once it committed. */
interface Effects<A> {
  answer: A;
  kills?: Pick<KillList, "cluster" | "instance_ids">[];
  /** workflows whose limits changed: their bridges are told */
  limits?: number[];
  wake?: number[];
  events: PendingEvents;
}

async function stop(deps: Deps, cmd: Request<"stop">): Promise<Effects<Answer<"stop">>> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockOwned(tx, cmd.workflow_id, deps.caller);
    if (wf.status === "HALTED")
      return {
        answer: { ok: true, workflow_id: wf.id, status: "HALTED", killed: 0, running: 0 },
        events,
      };
    if (wf.status !== "QUEUED" && wf.status !== "RUNNING" && wf.status !== "REGISTERING") {
      throw new Refused(`workflow ${wf.id} is ${wf.status}: there is nothing to stop`);
    }
    const kills = await haltTasks(tx, wf.id);
    await setWorkflowStatus(tx, wf.id, "HALTED", "STOPPED");
    events.workflow(wf.id, "HALTED");
    const killed = kills.reduce((n, k) => n + k.instance_ids.length, 0);
    const running = kills.reduce((n, k) => n + k.running, 0);
    return {
      answer: { ok: true, workflow_id: wf.id, status: "HALTED", killed, running },
      kills,
      events,
    };
  });
}

async function resume(deps: Deps, cmd: Request<"resume">): Promise<Effects<Answer<"resume">>> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockOwned(tx, cmd.workflow_id, deps.caller);
    if (wf.status !== "FAILED" && wf.status !== "HALTED") {
      throw new Refused(
        `workflow ${wf.id} is ${wf.status}: only a FAILED or HALTED workflow can be resumed`,
      );
    }
    const { runId, killed } = await resumeWorkflow(tx, wf.id, {
      cold: cmd.reset_running,
      keepResources: cmd.keep_resources,
      user: "drover",
      host: hostname(),
      submissionId: null,
    });
    events.workflow(wf.id, "QUEUED");
    const limits = await currentLimits(tx, wf.id);
    return {
      answer: {
        ok: true,
        workflow_id: wf.id,
        run_id: runId,
        status: "QUEUED",
        ...(limits ? { limits: { workflow: limits.workflow, templates: limits.templates } } : {}),
      },
      kills: killed,
      wake: [wf.id],
      events,
    };
  });
}

async function concurrency(
  deps: Deps,
  cmd: Request<"concurrency">,
): Promise<Effects<Answer<"concurrency">>> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockOwned(tx, cmd.workflow_id, deps.caller);
    if (cmd.template === undefined) await setWorkflowLimit(tx, wf.id, cmd.limit);
    else if ((await setTemplateLimit(tx, wf.id, cmd.template, cmd.limit)) === undefined) {
      const known = await templateNames(tx, wf.id);
      throw new Refused(
        `workflow ${wf.id} has no template "${cmd.template}"${meant(cmd.template, known)} (templates: ${known.join(", ")})`,
      );
    }
    return {
      answer: { ok: true, workflow_id: wf.id, template: cmd.template ?? null, limit: cmd.limit },
      limits: [wf.id],
      wake: [wf.id],
      events,
    };
  });
}

async function setStatus(
  deps: Deps,
  cmd: Request<"setStatus">,
): Promise<Effects<Answer<"setStatus">>> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const direction = !cmd.recursive ? null : cmd.status === "DONE" ? "upstream" : "downstream";
    const tasks = await taskClosure(tx, cmd.task_id, direction);
    if (tasks.length === 0) throw new Refused(`task ${cmd.task_id} does not exist`);
    const workflowId = tasks[0]!.workflow_id;
    const wf = await lockOwned(tx, workflowId, deps.caller);
    const busy = activeOnes(tasks);
    if (busy.length > 0) {
      const names = busy.slice(0, 5).map((t) => `${t.name} (${t.status})`);
      throw new Refused(
        `cannot set the status of tasks that are queued or running: ${names.join(", ")}${busy.length > 5 ? ", …" : ""}; stop the workflow first`,
      );
    }
    const ids = tasks.map((t) => t.id);
    let changed: { id: number; workflow_id: number }[];
    if (cmd.status === "DONE") {
      changed = await markDone(tx, ids);
      await releaseDownstream(
        tx,
        changed.map((t) => t.id),
      );
      for (const e of await settleWorkflows(tx, [workflowId]))
        events.workflow(e.workflow_id, e.status);
      if (await finishIfAllDone(tx, workflowId)) events.workflow(workflowId, "DONE");
    } else {
      changed = await markRegistering(tx, ids);
      // A DONE workflow with work to do again becomes resumable.
      if (changed.length > 0 && wf.status === "DONE") {
        await setWorkflowStatus(tx, workflowId, "HALTED");
        events.workflow(workflowId, "HALTED");
      }
    }
    events.tasks(cmd.status, changed);
    // The workflow row is locked: it has a status.
    const after = (await workflowStatus(tx, workflowId))!;
    return {
      answer: {
        ok: true,
        task_ids: changed.map((t) => t.id),
        status: cmd.status,
        workflow_id: workflowId,
        workflow_status: after,
      },
      wake: [workflowId],
      events,
    };
  });
}

async function reset(deps: Deps, cmd: Request<"reset">): Promise<Effects<Answer<"reset">>> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockOwned(tx, cmd.workflow_id, deps.caller);
    if (wf.status !== "DONE" && wf.status !== "FAILED" && wf.status !== "HALTED") {
      throw new Refused(
        wf.status === "ABORTED"
          ? `workflow ${wf.id} is ABORTED: it has no tasks to reset`
          : `workflow ${wf.id} is ${wf.status}: stop it first ('drover stop ${wf.id}')`,
      );
    }
    if (await hasLiveInstances(tx, wf.id)) {
      throw new Refused(
        `workflow ${wf.id} still has instances running (a hot resume left them): wait for them or stop the workflow`,
      );
    }
    const count = await resetWorkflow(tx, wf.id, cmd.partial);
    events.workflow(wf.id, "HALTED");
    return { answer: { ok: true, workflow_id: wf.id, status: "HALTED", reset: count }, events };
  });
}

async function release(deps: Deps, cmd: Request<"release">): Promise<Effects<Answer<"release">>> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockOwned(tx, cmd.workflow_id, deps.caller);
    const settings = { failFast: cmd.fail_fast, timeoutSeconds: cmd.timeout_seconds };
    if (await releaseWorkflow(tx, wf.id, settings)) {
      events.workflow(wf.id, "QUEUED");
      return {
        answer: { ok: true, workflow_id: wf.id, status: "QUEUED", released: true },
        wake: [wf.id],
        events,
      };
    }
    // Released already (a repeated release): nothing to do. Anything else is not held.
    if (wf.status === "QUEUED" || wf.status === "RUNNING" || wf.status === "DONE") {
      return {
        answer: { ok: true, workflow_id: wf.id, status: wf.status, released: false },
        events,
      };
    }
    throw new Refused(
      `workflow ${wf.id} is ${wf.status}: only a held workflow (submitted with --hold) can be released`,
    );
  });
}

async function taskAttributes(
  deps: Deps,
  cmd: Request<"taskAttributes">,
): Promise<Effects<Answer<"taskAttributes">>> {
  const events = new PendingEvents();
  const wf = await taskWorkflow(deps.sql, cmd.task_id);
  if (!wf) throw new Refused(`task ${cmd.task_id} does not exist`);
  await mayAct(deps.sql, wf, deps.caller);
  const attributes = await addTaskAttributes(deps.sql, cmd.task_id, cmd.attributes);
  if (!attributes) throw new Refused(`task ${cmd.task_id} does not exist`);
  return { answer: { ok: true, task_id: cmd.task_id, attributes }, events };
}

/**
 * Runs a command and, after its commit, what it implies: kill orders, wake-ups and
 * events. A lost kill order is re-sent by the reaper (the instances are KILL_SELF); a
 * lost wake is covered by schedule's timer. Answered only after all of that.
 */
async function run<A>(
  ctx: FunctionContext,
  subject: string,
  command: () => Promise<Effects<A>>,
): Promise<A> {
  // Each command is one transaction: one that lost a deadlock to a running workflow's
  // handlers is run again, so that the caller gets an answer, not the conflict.
  const effects = await retryConflicts(command);
  effects.events.flush(ctx.emit);
  for (const k of effects.kills ?? []) {
    await publishKills(ctx, k.cluster, k.instance_ids, subject).catch((err) =>
      ctx.log.warn({ err, cluster: k.cluster }, "kill order not published"),
    );
  }
  for (const workflowId of effects.limits ?? []) {
    // Not re-sent when lost: the next batch of the workflow carries the new limits.
    await publishLimits(ctx, workflowId).catch((err) =>
      ctx.log.warn({ err, workflowId }, "limit order not published"),
    );
  }
  for (const workflowId of effects.wake ?? []) {
    await ctx
      .publish(Contracts.schedWake, { v: 1, workflow_id: workflowId }, { command: subject })
      .catch((err) => ctx.log.warn({ err, workflowId }, "wake not published"));
  }
  return effects.answer;
}

export async function startCommandService(deps: {
  nc: NatsConnection;
  sql: Sql;
  log: Logger;
}): Promise<RunningService> {
  const ctx = functionContext({ ...deps, log: deps.log.child({ service: CommandService.name }) });
  return serve(
    deps.nc,
    CommandService,
    {
      stop: (cmd, subject, caller) => run(ctx, subject, () => stop({ ...ctx, caller }, cmd)),
      resume: (cmd, subject, caller) => run(ctx, subject, () => resume({ ...ctx, caller }, cmd)),
      concurrency: (cmd, subject, caller) =>
        run(ctx, subject, () => concurrency({ ...ctx, caller }, cmd)),
      setStatus: (cmd, subject, caller) =>
        run(ctx, subject, () => setStatus({ ...ctx, caller }, cmd)),
      taskAttributes: (cmd, subject, caller) =>
        run(ctx, subject, () => taskAttributes({ ...ctx, caller }, cmd)),
      reset: (cmd, subject, caller) => run(ctx, subject, () => reset({ ...ctx, caller }, cmd)),
      release: (cmd, subject, caller) => run(ctx, subject, () => release({ ...ctx, caller }, cmd)),
    },
    deps.log,
  );
}

export type { ConcurrencyCommand, ResumeCommand, SetStatusCommand, StopCommand };
