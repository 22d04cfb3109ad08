import { z } from "zod";
import { Subjects } from "./subjects.ts";

/**
 * Live events (core NATS, best-effort: nobody must receive them, nothing is replayed).
 * Emitted after the change committed, for progress bars and the GUI; the database stays
 * the truth (query.* answers from it).
 *
 * - `evt.workflow.<workflow id>`: a workflow's status changed.
 * - `evt.tasks.<workflow id>`: tasks of that workflow moved to `status` (ids in chunks).
 *
 * Subscribe to `evt.*.<id>` for one workflow, `evt.>` for everything.
 */

export const EventKinds = { workflow: "workflow", tasks: "tasks" } as const;

export const workflowEventSubject = (workflowId: number) =>
  `${Subjects.evt}.${EventKinds.workflow}.${workflowId}`;
export const tasksEventSubject = (workflowId: number) =>
  `${Subjects.evt}.${EventKinds.tasks}.${workflowId}`;

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

/** Task ids per tasks event: keeps each event well under NATS's 1 MB payload. */
export const TASK_EVENT_CHUNK = 5000;

export interface BusEvent {
  subject: string;
  data: WorkflowEvent | TasksEvent;
}

/**
 * Events gathered while a transaction runs, emitted once it committed (`flush`). A
 * transaction that rolls back (or is retried) simply drops its collector.
 */
export class PendingEvents {
  readonly events: BusEvent[] = [];

  workflow(workflowId: number, status: string): void {
    this.events.push({
      subject: workflowEventSubject(workflowId),
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
          subject: tasksEventSubject(workflowId),
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
  flush(emit: (subject: string, data: unknown) => void): void {
    for (const e of this.events) {
      try {
        emit(e.subject, e.data);
      } catch {
        // best-effort by design
      }
    }
    this.events.length = 0;
  }
}
