import { z } from "zod";
import { event } from "./contract.ts";
import type { Publisher } from "./publish.ts";
import { SubmitReply } from "./submit.ts";

/**
 * Core NATS events (best-effort: nobody must receive them, nothing is replayed), in the
 * style of bus/contracts.ts. Live events are emitted after the change committed, for
 * progress bars and the GUI; the database stays the truth (query.* answers from it).
 *
 * - `evt.workflow.<workflow id>`: a workflow's status changed.
 * - `evt.tasks.<workflow id>`: tasks of that workflow moved to `status` (ids in chunks).
 * - `wf.submit.reply.<submission id>`: bind-dag's answer to a submitter.
 *
 * Subscribe to `evt.*.<id>` for one workflow, `evt.>` for everything.
 */

const id = z.number().int().positive();

export const WorkflowEvent = z.object({
  v: z.literal(1),
  workflow_id: id,
  status: z.string(),
});

export const TasksEvent = z.object({
  v: z.literal(1),
  workflow_id: id,
  status: z.string(),
  task_ids: z.array(id).min(1),
});

export type WorkflowEvent = z.infer<typeof WorkflowEvent>;
export type TasksEvent = z.infer<typeof TasksEvent>;

export const Events = {
  workflow: event({
    subject: "evt.workflow.*",
    schema: WorkflowEvent,
    address: (m) => `evt.workflow.${m.workflow_id}`,
  }),
  tasks: event({
    subject: "evt.tasks.*",
    schema: TasksEvent,
    address: (m) => `evt.tasks.${m.workflow_id}`,
  }),
  /**
   * `wf.reply.<owner>.<submission>`: the answer to a submission, for its submitter alone
   * (only they may subscribe under their token). Listen before publishing wf.submit: the
   * answer is not kept for latecomers.
   */
  submitReply: event({
    subject: "wf.reply.*.*",
    schema: SubmitReply,
    address: (_m, to: { owner: string; submission: string }) =>
      `wf.reply.${to.owner}.${to.submission}`,
  }),
} as const;

/** Every event of one workflow. */
export const workflowEvents = (workflowId: number) => `evt.*.${workflowId}`;

/** Task ids per tasks event: keeps each event well under NATS's 1 MB payload. */
export const TASK_EVENT_CHUNK = 5000;

type BusEvent =
  | { contract: typeof Events.workflow; data: WorkflowEvent }
  | { contract: typeof Events.tasks; data: TasksEvent };

/**
 * Events gathered while a transaction runs, emitted once it committed (`flush`). A
 * transaction that rolls back (or is retried) simply drops its collector.
 */
export class PendingEvents {
  readonly events: BusEvent[] = [];

  workflow(workflowId: number, status: string): void {
    this.events.push({
      contract: Events.workflow,
      data: { v: 1, workflow_id: workflowId, status },
    });
  }

  /** `tasks`: rows that moved, possibly of several workflows. */
  tasks(status: string, tasks: readonly { id: number; workflow_id: number }[]): void {
    const byWorkflow = new Map<number, number[]>();
    for (const t of tasks) {
      const list = byWorkflow.get(t.workflow_id);
      if (list) list.push(t.id);
      else byWorkflow.set(t.workflow_id, [t.id]);
    }
    for (const [workflowId, ids] of byWorkflow) {
      for (let i = 0; i < ids.length; i += TASK_EVENT_CHUNK) {
        this.events.push({
          contract: Events.tasks,
          data: {
            v: 1,
            workflow_id: workflowId,
            status,
            task_ids: ids.slice(i, i + TASK_EVENT_CHUNK),
          },
        });
      }
    }
  }

  /** Emits everything gathered; a failing emit (connection closing) never fails the caller. */
  flush(emit: Publisher["emit"]): void {
    for (const e of this.events) {
      try {
        if (e.contract === Events.workflow) emit(Events.workflow, e.data as WorkflowEvent);
        else emit(Events.tasks, e.data as TasksEvent);
      } catch {
        // best-effort by design
      }
    }
    this.events.length = 0;
  }
}
