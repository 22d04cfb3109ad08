import { createHash } from "node:crypto";
import type { Sql } from "postgres";
import { PendingEvents } from "../../bus/events.ts";
import type { HandlerContext } from "../../bus/runtime.ts";
import { Subjects } from "../../bus/subjects.ts";
import { LIVE_WORKFLOW } from "../../store/statuses.ts";
import { settleWorkflows } from "../../store/workflow-end.ts";
import { startWorkflow } from "../../store/workflow-start.ts";
import {
  activeByArray,
  activeOfLimitedArrays,
  hasFatalTask,
  lockWorkflow,
  pickReadyTasks,
  type QueuedTask,
  queueTasks,
} from "./sql.ts";

export interface ScheduleOptions {
  /** tasks queued per transaction (the workflow row stays locked for one round) */
  roundCap: number;
  /** task ids per task.queued message */
  chunk: number;
  /** rounds per call; when there is still more, a sched.wake continues later */
  maxRounds: number;
}

export const DEFAULT_SCHEDULE_OPTIONS: ScheduleOptions = {
  roundCap: 20_000,
  chunk: 5_000,
  maxRounds: 50,
};

export type ScheduleDeps = Pick<HandlerContext, "sql" | "log" | "publish" | "emit"> & {
  working?: () => void;
};

interface Round {
  queued: QueuedTask[];
  events: PendingEvents;
  /** the round was cut by roundCap: more may be ready and allowed */
  more: boolean;
}

/**
 * One round, in one transaction holding the workflow row lock: ready tasks → QUEUED
 * within the workflow's and each array's max_concurrently_running (active = QUEUED,
 * INSTANTIATING, LAUNCHED, RUNNING); the workflow and its run → RUNNING on the first
 * tasks queued. Nothing for a workflow that is not QUEUED/RUNNING, or that is fail_fast
 * and has an ERROR_FATAL task. A workflow with nothing active and nothing to queue is
 * given the end-of-workflow check (a workflow without tasks ends here).
 */
export async function scheduleRound(
  sql: Sql,
  workflowId: number,
  roundCap: number,
): Promise<Round> {
  const events = new PendingEvents();
  const result = await sql.begin(async (tx): Promise<Round> => {
    const none = { queued: [], events, more: false };
    const wf = await lockWorkflow(tx, workflowId);
    if (!wf || !(LIVE_WORKFLOW as readonly string[]).includes(wf.status)) return none;
    if (wf.fail_fast && (await hasFatalTask(tx, workflowId))) return none;
    // Count only what is limited: the workflow's active tasks when it has a limit, else
    // those of the arrays that have one (a wake for a big unlimited workflow stays cheap).
    const wfLimited = wf.max_concurrently_running !== null;
    const active = wfLimited
      ? await activeByArray(tx, workflowId)
      : await activeOfLimitedArrays(tx, workflowId);
    const total = active.reduce((n, a) => n + a.active, 0);
    const room =
      wf.max_concurrently_running === null
        ? Number.POSITIVE_INFINITY
        : Math.max(0, wf.max_concurrently_running - total);
    const limit = Math.min(roundCap, room);
    const picked = limit > 0 ? await pickReadyTasks(tx, workflowId, limit, active) : [];
    if (picked.length === 0) {
      // Nothing to queue and (as far as counted) nothing active: maybe nothing ever will
      // be (a workflow without tasks, or blocked by failed tasks). The check is cheap.
      if (total === 0) {
        for (const end of await settleWorkflows(tx, [workflowId]))
          events.workflow(end.workflow_id, end.status);
      }
      return none;
    }
    const queued = await queueTasks(tx, workflowId, picked);
    events.tasks(
      "QUEUED",
      queued.map((t) => ({ id: t.id, workflow_id: workflowId })),
    );
    // The locked row's status is current: a RUNNING workflow has nothing to start.
    if (queued.length > 0 && wf.status !== "RUNNING" && (await startWorkflow(tx, workflowId)))
      events.workflow(workflowId, "RUNNING");
    return { queued, events, more: picked.length === roundCap };
  });
  return result;
}

/** Deterministic, and distinct for a re-queue of the same tasks on a later attempt. */
export function queuedMsgId(workflowId: number, tasks: readonly QueuedTask[]): string {
  const digest = createHash("sha256")
    .update(tasks.map((t) => `${t.id}:${t.attempts}`).join(","))
    .digest("hex")
    .slice(0, 16);
  return `queued-${workflowId}-${tasks[0]?.id ?? 0}-${tasks.length}-${digest}`;
}

export async function publishQueued(
  deps: ScheduleDeps,
  workflowId: number,
  queued: readonly QueuedTask[],
  chunk: number,
): Promise<void> {
  for (let i = 0; i < queued.length; i += chunk) {
    const part = queued.slice(i, i + chunk);
    await deps.publish(
      Subjects.taskQueued,
      { v: 1, workflow_id: workflowId, task_ids: part.map((t) => t.id) },
      { msgID: queuedMsgId(workflowId, part) },
    );
  }
}

/**
 * Schedules a workflow: rounds until one is not full, each published after its commit.
 * If a crash loses a publish, the tasks stay QUEUED for the reaper to re-emit. Returns
 * how many tasks were queued.
 */
export async function scheduleWorkflow(
  deps: ScheduleDeps,
  workflowId: number,
  options: ScheduleOptions = DEFAULT_SCHEDULE_OPTIONS,
): Promise<number> {
  let count = 0;
  for (let round = 1; ; round++) {
    const { queued, events, more } = await scheduleRound(deps.sql, workflowId, options.roundCap);
    events.flush(deps.emit);
    await publishQueued(deps, workflowId, queued, options.chunk);
    count += queued.length;
    if (!more) break;
    if (round >= options.maxRounds) {
      // Let other workflows have this replica; the rest continues from the stream.
      const last = queued.at(-1);
      await deps.publish(
        Subjects.schedWake,
        { v: 1, workflow_id: workflowId },
        { msgID: `wake-more-${workflowId}-${last?.id ?? 0}-${last?.attempts ?? 0}` },
      );
      break;
    }
    deps.working?.();
  }
  if (count > 0) deps.log.debug({ workflow: workflowId, queued: count }, "tasks queued");
  return count;
}
