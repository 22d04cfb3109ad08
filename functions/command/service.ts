/**
 * command — the state-changing commands of the CLI and the GUI (bus/commands.ts).
 *
 * Subscribes: cmd.* (core NATS request/reply, queue group `commands`).
 * Publishes: the answer (after commit); ctl.<cluster>.kill for instances to kill;
 *   sched.wake when tasks may run; events evt.workflow.<wf> / evt.tasks.<wf>.
 * Idempotency: each command runs in one transaction under the workflow's row lock and
 *   states its precondition (stopping a HALTED workflow answers as a no-op; resuming a
 *   RUNNING one is refused).
 */
import { hostname } from "node:os";
import { jetstream } from "@nats-io/jetstream";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { z } from "zod";
import {
  COMMAND_QUEUE_GROUP,
  CommandSchemas,
  CommandSubjects,
  type ConcurrencyCommand,
  type ResumeCommand,
  type SetStatusCommand,
  type StopCommand,
} from "../../bus/commands.ts";
import { PendingEvents } from "../../bus/events.ts";
import { createPublisher, type Publisher } from "../../bus/publish.ts";
import { killSubject, Subjects } from "../../bus/subjects.ts";
import type { Logger } from "../../core/log.ts";
import { retryConflicts } from "../../db/retry.ts";
import { releaseDownstream } from "../../store/downstream.ts";
import { haltTasks, type KillList, setWorkflowStatus } from "../../store/halt.ts";
import { resumeWorkflow } from "../../store/resume.ts";
import { settleWorkflows } from "../../store/workflow-end.ts";
import {
  activeOnes,
  lockWorkflow,
  markDone,
  markRegistering,
  setTemplateLimit,
  setWorkflowLimit,
  taskClosure,
  templateNames,
} from "./sql.ts";

class Refused extends Error {}

interface Deps {
  sql: Sql;
  publisher: Publisher;
  log: Logger;
}

interface Effects {
  answer: Record<string, unknown>;
  kills?: KillList[];
  wake?: number[];
  events: PendingEvents;
}

async function stop(
  deps: Deps,
  cmd: z.output<(typeof CommandSchemas)[typeof CommandSubjects.stop]>,
): Promise<Effects> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockWorkflow(tx, cmd.workflow_id);
    if (!wf) throw new Refused(`workflow ${cmd.workflow_id} does not exist`);
    if (wf.status === "HALTED")
      return { answer: { ok: true, workflow_id: wf.id, status: "HALTED", killed: 0 }, events };
    if (wf.status !== "QUEUED" && wf.status !== "RUNNING" && wf.status !== "REGISTERING") {
      throw new Refused(`workflow ${wf.id} is ${wf.status}: there is nothing to stop`);
    }
    const kills = await haltTasks(tx, wf.id);
    await setWorkflowStatus(tx, wf.id, "HALTED", "STOPPED");
    events.workflow(wf.id, "HALTED");
    const killed = kills.reduce((n, k) => n + k.instance_ids.length, 0);
    return { answer: { ok: true, workflow_id: wf.id, status: "HALTED", killed }, kills, events };
  });
}

async function resume(
  deps: Deps,
  cmd: z.output<(typeof CommandSchemas)[typeof CommandSubjects.resume]>,
): Promise<Effects> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockWorkflow(tx, cmd.workflow_id);
    if (!wf) throw new Refused(`workflow ${cmd.workflow_id} does not exist`);
    if (wf.status !== "FAILED" && wf.status !== "HALTED") {
      throw new Refused(
        `workflow ${wf.id} is ${wf.status}: only a FAILED or HALTED workflow can be resumed`,
      );
    }
    const { runId, killed } = await resumeWorkflow(tx, wf.id, {
      cold: cmd.reset_running,
      user: "drover",
      host: hostname(),
      submissionId: null,
    });
    events.workflow(wf.id, "QUEUED");
    return {
      answer: { ok: true, workflow_id: wf.id, run_id: runId, status: "QUEUED" },
      kills: killed,
      wake: [wf.id],
      events,
    };
  });
}

async function concurrency(
  deps: Deps,
  cmd: z.output<(typeof CommandSchemas)[typeof CommandSubjects.concurrency]>,
): Promise<Effects> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const wf = await lockWorkflow(tx, cmd.workflow_id);
    if (!wf) throw new Refused(`workflow ${cmd.workflow_id} does not exist`);
    if (cmd.template === undefined) await setWorkflowLimit(tx, wf.id, cmd.limit);
    else if ((await setTemplateLimit(tx, wf.id, cmd.template, cmd.limit)) === undefined) {
      const known = await templateNames(tx, wf.id);
      throw new Refused(
        `workflow ${wf.id} has no template "${cmd.template}" (templates: ${known.join(", ")})`,
      );
    }
    return {
      answer: { ok: true, workflow_id: wf.id, template: cmd.template ?? null, limit: cmd.limit },
      wake: [wf.id],
      events,
    };
  });
}

async function setStatus(
  deps: Deps,
  cmd: z.output<(typeof CommandSchemas)[typeof CommandSubjects.setStatus]>,
): Promise<Effects> {
  const events = new PendingEvents();
  return deps.sql.begin(async (tx) => {
    const direction = !cmd.recursive ? null : cmd.status === "DONE" ? "upstream" : "downstream";
    const tasks = await taskClosure(tx, cmd.task_id, direction);
    if (tasks.length === 0) throw new Refused(`task ${cmd.task_id} does not exist`);
    const workflowId = tasks[0]!.workflow_id;
    const wf = (await lockWorkflow(tx, workflowId))!;
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
    } else {
      changed = await markRegistering(tx, ids);
      // A DONE workflow with work to do again becomes resumable.
      if (changed.length > 0 && wf.status === "DONE") {
        await setWorkflowStatus(tx, workflowId, "HALTED");
        events.workflow(workflowId, "HALTED");
      }
    }
    events.tasks(cmd.status, changed);
    return {
      answer: { ok: true, task_ids: changed.map((t) => t.id), status: cmd.status },
      wake: [workflowId],
      events,
    };
  });
}

const handlers: Record<string, (deps: Deps, cmd: never) => Promise<Effects>> = {
  [CommandSubjects.stop]: stop,
  [CommandSubjects.resume]: resume,
  [CommandSubjects.concurrency]: concurrency,
  [CommandSubjects.setStatus]: setStatus,
};

async function execute(deps: Deps, nc: NatsConnection, m: Msg): Promise<unknown> {
  const schema = (CommandSchemas as Record<string, z.ZodType>)[m.subject];
  const handler = handlers[m.subject];
  if (!schema || !handler) return { error: `unknown command ${m.subject}` };
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(m.data));
  } catch {
    return { error: `${m.subject}: the request is not JSON` };
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) return { error: `${m.subject}: ${z.prettifyError(parsed.error)}` };
  let effects: Effects;
  try {
    // Each command is one transaction: one that lost a deadlock to a running workflow's
    // handlers is run again, so that the caller gets an answer, not the conflict.
    effects = await retryConflicts(() => handler(deps, parsed.data as never));
  } catch (err) {
    if (err instanceof Refused) return { error: err.message };
    deps.log.error({ err, subject: m.subject }, "command failed");
    return { error: `${m.subject} failed: ${(err as Error).message}` };
  }
  // After commit: kill orders, wake-ups and events. A lost kill order is re-sent by the
  // reaper (the instances are KILL_SELF); a lost wake is covered by schedule's timer.
  effects.events.flush((subject, data) => nc.publish(subject, JSON.stringify(data)));
  for (const k of effects.kills ?? []) {
    await deps.publisher
      .publish(killSubject(k.cluster), { v: 1, instance_ids: k.instance_ids, reason: m.subject })
      .catch((err) => deps.log.warn({ err, cluster: k.cluster }, "kill order not published"));
  }
  for (const workflowId of effects.wake ?? []) {
    await deps.publisher
      .publish(Subjects.schedWake, { v: 1, workflow_id: workflowId })
      .catch((err) => deps.log.warn({ err, workflowId }, "wake not published"));
  }
  return effects.answer;
}

export interface RunningService {
  name: string;
  stop(): Promise<void>;
}

export async function startCommandService(deps: {
  nc: NatsConnection;
  sql: Sql;
  log: Logger;
}): Promise<RunningService> {
  const log = deps.log.child({ service: "command" });
  const publisher = createPublisher(deps.nc, jetstream(deps.nc));
  const inFlight = new Set<Promise<void>>();
  const sub: Subscription = deps.nc.subscribe(`${Subjects.cmd}.*`, {
    queue: COMMAND_QUEUE_GROUP,
    callback: (err, m) => {
      if (err) return log.warn({ err }, "command subscription error");
      const p = execute({ sql: deps.sql, publisher, log }, deps.nc, m)
        .then((answer) => {
          if (m.reply) m.respond(JSON.stringify(answer));
        })
        .catch((e) => log.error({ err: e }, "command not answered"));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    },
  });
  log.info({ subjects: Object.values(CommandSubjects) }, "command service started");
  return {
    name: "command",
    async stop() {
      await sub.drain().catch(() => {});
      await Promise.allSettled([...inFlight]);
    },
  };
}

export type { ConcurrencyCommand, ResumeCommand, SetStatusCommand, StopCommand };
