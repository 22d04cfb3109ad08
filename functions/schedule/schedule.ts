import type { Sql } from "postgres";
import { Contracts } from "../../bus/contracts.ts";
import { PendingEvents } from "../../bus/events.ts";
import { LIVE_WORKFLOW } from "../../core/statuses.ts";
import {
  activeByArray,
  activeOfLimitedArrays,
  claimWorkflow,
  hasFatalTask,
  lockWorkflow,
  pickReadyTasks,
  type QueuedTask,
  queueTasks,
} from "../../store/schedule.ts";
import { settleWorkflows } from "../../store/workflow-end.ts";
import { startWorkflow } from "../../store/workflow-start.ts";
import type { FunctionContext } from "../context.ts";

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

export type ScheduleDeps = Pick<FunctionContext, "sql" | "log" | "publish" | "emit"> & {
  working?: () => void;
};

interface Round {
  queued: QueuedTask[];
  events: PendingEvents;
  /** the round was cut by roundCap: more may be ready and allowed */
  more: boolean;
}

/**
 * How a round takes the workflow row: `wait` for it (a wake or a bound workflow: this
 * call is the one meant to schedule it), or `skip` it when another transaction holds it
 * (the sweep: the holder schedules it).
 */
export type Claim = "wait" | "skip";

/**
 * One round, in one transaction holding the workflow row lock (`claim` says how it is
 * taken; a row skipped is a round with nothing queued): ready tasks → QUEUED
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
  claim: Claim = "wait",
): Promise<Round> {
  const events = new PendingEvents();
  const result = await sql.begin(async (tx): Promise<Round> => {
    const none = { queued: [], events, more: false };
    const wf =
      claim === "wait" ? await lockWorkflow(tx, workflowId) : await claimWorkflow(tx, workflowId);
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

export async function publishQueued(
  deps: ScheduleDeps,
  workflowId: number,
  queued: readonly QueuedTask[],
  chunk: number,
): Promise<void> {
  for (let i = 0; i < queued.length; i += chunk) {
    const part = queued.slice(i, i + chunk);
    // Each task's lifetime queue count makes the id: a re-queue is new work.
    await deps.publish(
      Contracts.taskQueued,
      { v: 1, workflow_id: workflowId, task_ids: part.map((t) => t.id) },
      { queued_counts: part.map((t) => t.queued_count) },
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
  claim: Claim = "wait",
): Promise<number> {
  let count = 0;
  for (let round = 1; ; round++) {
    const { queued, events, more } = await scheduleRound(
      deps.sql,
      workflowId,
      options.roundCap,
      claim,
    );
    events.flush(deps.emit);
    await publishQueued(deps, workflowId, queued, options.chunk);
    count += queued.length;
    if (!more) break;
    if (round >= options.maxRounds) {
      // Let other workflows have this replica; the rest continues from the stream.
      const last = queued.at(-1);
      await deps.publish(
        Contracts.schedWake,
        { v: 1, workflow_id: workflowId },
        { more: last && { id: last.id, queued_count: last.queued_count } },
      );
      break;
    }
    deps.working?.();
  }
  if (count > 0) deps.log.debug({ workflow: workflowId, queued: count }, "tasks queued");
  return count;
}
