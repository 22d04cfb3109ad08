/**
 * schedule — queues ready tasks within the concurrency limits.
 *
 * Subscribes: wf.bound, sched.wake; a sweep timer (every `sweepMs`, default 5 s) over
 *   QUEUED/RUNNING workflows that have ready tasks (covers lost wakes and limits raised).
 * Publishes: task.queued, ≤ `chunk` ids each, msg id `queued-<wf>-<first id>-<count>-<digest
 *   of id:attempts>` (a re-queue on a later attempt gets a new id); sched.wake to itself
 *   when a workflow has more ready tasks than `maxRounds` rounds take. Events:
 *   evt.tasks.<wf> (QUEUED), evt.workflow.<wf> (RUNNING; DONE for a workflow without
 *   tasks).
 * Idempotency: a round holds the workflow row lock (`for update`), so rounds of one
 *   workflow run one after the other and never exceed a limit together. The sweep takes
 *   it with `skip locked`, so replicas sweeping at once spread over the workflows rather
 *   than wait on each other (claimWorkflow in store/schedule.ts says why a skip loses
 *   nothing). The QUEUED transition is guarded, so a redelivered wake queues only what
 *   is ready by then.
 * Side effects: task QUEUED, workflow and run RUNNING, audit rows.
 */
import { workflowsWithReadyTasks } from "../../store/schedule.ts";
import { defineFunction, type FunctionContext } from "../context.ts";
import { DEFAULT_SCHEDULE_OPTIONS, type ScheduleOptions, scheduleWorkflow } from "./schedule.ts";

export interface ScheduleFunctionOptions extends Partial<ScheduleOptions> {
  /** period of the sweep (default 5 s, as config sweepSeconds) */
  sweepMs?: number;
  /** workflows scheduled per sweep */
  sweepLimit?: number;
}

export function createSchedule(options: ScheduleFunctionOptions = {}) {
  const opts: ScheduleOptions = {
    roundCap: options.roundCap ?? DEFAULT_SCHEDULE_OPTIONS.roundCap,
    chunk: options.chunk ?? DEFAULT_SCHEDULE_OPTIONS.chunk,
    maxRounds: options.maxRounds ?? DEFAULT_SCHEDULE_OPTIONS.maxRounds,
  };
  const sweepLimit = options.sweepLimit ?? 1000;
  return defineFunction({
    name: "schedule",
    concurrency: 4,
    async handle(msg, ctx) {
      const workflowId = msg.data.workflow_id;
      await scheduleWorkflow(
        { ...ctx, log: ctx.log.child({ workflow: workflowId }) },
        workflowId,
        opts,
      );
    },
    timers: [
      {
        name: "sweep",
        everyMs: options.sweepMs ?? 5000,
        run: async (ctx) => {
          await sweep(ctx, opts, sweepLimit);
        },
      },
    ],
  });
}

/**
 * Schedules every workflow that has ready tasks and that no other transaction holds; a
 * failure on one does not stop the rest.
 */
export async function sweep(
  ctx: FunctionContext,
  opts: ScheduleOptions,
  limit = 1000,
): Promise<number> {
  let queued = 0;
  for (const workflowId of await workflowsWithReadyTasks(ctx.sql, limit)) {
    if (ctx.signal.aborted) break;
    try {
      queued += await scheduleWorkflow(ctx, workflowId, opts, "skip");
    } catch (err) {
      ctx.log.error({ err, workflow: workflowId }, "sweep could not schedule a workflow");
    }
  }
  return queued;
}

export const schedule = createSchedule();
