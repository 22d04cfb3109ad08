import { z } from "zod";
import { answers, endpoint, service } from "./contract.ts";
import type { LimitsView } from "./schemas.ts";

/**
 * State-changing commands over core NATS request/reply, used by the CLI and the GUI so
 * that one code path changes state (the service contract is at the end). Each is
 * answered after its change committed, so a query right after sees it. Answers are
 * JSON: the result (with `ok: true`) or `{ error }` naming the problem (unknown id,
 * wrong state).
 */

const id = z.number().int().positive();

/** Stop scheduling, kill live instances (their tasks end ERROR_FATAL), workflow HALTED. */
export const StopCommand = z.object({ workflow_id: id });

/** Resume a FAILED or HALTED workflow in a new run; cold with reset_running. */
export const ResumeCommand = z.object({
  workflow_id: id,
  reset_running: z.boolean().default(false),
  /** keep resources as of the last attempt (by default, more after a memory or time kill) */
  keep_resources: z.boolean().default(false),
});

/** Change a limit while running: the workflow's, or one template's; 0 pauses, null lifts it. */
export const ConcurrencyCommand = z.object({
  workflow_id: id,
  limit: z.number().int().nonnegative().nullable(),
  template: z.string().min(1).optional(),
});

/**
 * Like Jobmon's `task update`: `DONE` (with recursive: its upstream tasks too) or
 * `REGISTERING` (with recursive: its downstream tasks too).
 */
export const SetStatusCommand = z.object({
  task_id: id,
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(["DONE", "REGISTERING"])),
  recursive: z.boolean().default(false),
});

/**
 * Jobmon's workflow reset: every task back to REGISTERING (with partial: those not DONE),
 * the workflow HALTED so that a resume runs them. Refused while it runs.
 */
export const ResetCommand = z.object({
  workflow_id: id,
  partial: z.boolean().default(false),
});

/**
 * Lets a held workflow (submitted with hold: bound, REGISTERING) run, with the run-time
 * settings of Jobmon's run(): fail_fast and a timeout, counted from now.
 */
export const ReleaseCommand = z.object({
  workflow_id: id,
  fail_fast: z.boolean().optional(),
  timeout_seconds: z.number().int().positive().max(2_147_483_647).optional(),
});

/** Attribute names: what a spec file allows as a key, short enough to show. */
const attributeName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\s=]+$/, "must have no spaces and no '='");

/**
 * Attributes added to a task (Jobmon's add_task_attributes, typically by the task
 * itself, which knows its DROVER_TASK_ID): merged into the task's own, new values win.
 */
export const TaskAttributesCommand = z.object({
  task_id: id,
  attributes: z
    .record(attributeName, z.string().max(4096))
    .refine((a) => Object.keys(a).length > 0, "give at least one attribute")
    .refine((a) => Object.keys(a).length <= 100, "at most 100 attributes at once"),
});

export type StopCommand = z.input<typeof StopCommand>;
export type ResumeCommand = z.input<typeof ResumeCommand>;
export type ConcurrencyCommand = z.input<typeof ConcurrencyCommand>;
export type SetStatusCommand = z.input<typeof SetStatusCommand>;
export type TaskAttributesCommand = z.input<typeof TaskAttributesCommand>;
export type ResetCommand = z.input<typeof ResetCommand>;
export type ReleaseCommand = z.input<typeof ReleaseCommand>;

export interface StopAnswer {
  ok: true;
  workflow_id: number;
  status: string;
  /** live instances ordered killed */
  killed: number;
  /** of them, those that were running; the others had not started */
  running?: number;
}
export interface ResumeAnswer {
  ok: true;
  workflow_id: number;
  run_id: number;
  status: string;
  /** its limits, which the new run keeps (null: no limit; 0: paused) */
  limits?: LimitsView;
}
export interface ConcurrencyAnswer {
  ok: true;
  workflow_id: number;
  template: string | null;
  limit: number | null;
}
export interface SetStatusAnswer {
  ok: true;
  /** tasks whose status changed */
  task_ids: number[];
  status: "DONE" | "REGISTERING";
  workflow_id: number;
  /** the workflow's status after the change (DONE once every task is) */
  workflow_status: string;
}
export interface ReleaseAnswer {
  ok: true;
  workflow_id: number;
  /** QUEUED once released; the current status when it was not held (nothing changed) */
  status: string;
  released: boolean;
}
export interface ResetAnswer {
  ok: true;
  workflow_id: number;
  status: string;
  /** tasks whose status changed to REGISTERING */
  reset: number;
}
export interface TaskAttributesAnswer {
  ok: true;
  task_id: number;
  /** every attribute of the task after the change */
  attributes: Record<string, string>;
}
export interface CommandError {
  error: string;
}

/** `cmd.<verb>`, served in the queue group `commands` (functions/command). */
export const CommandService = service({
  name: "command",
  subjects: "cmd.*.*",
  queue: "commands",
  endpoints: {
    stop: endpoint({ subject: "cmd.*.stop", request: StopCommand, ...answers<StopAnswer>() }),
    resume: endpoint({
      subject: "cmd.*.resume",
      request: ResumeCommand,
      ...answers<ResumeAnswer>(),
    }),
    concurrency: endpoint({
      subject: "cmd.*.concurrency",
      request: ConcurrencyCommand,
      ...answers<ConcurrencyAnswer>(),
    }),
    setStatus: endpoint({
      subject: "cmd.*.set-status",
      request: SetStatusCommand,
      ...answers<SetStatusAnswer>(),
    }),
    taskAttributes: endpoint({
      subject: "cmd.*.task-attributes",
      request: TaskAttributesCommand,
      ...answers<TaskAttributesAnswer>(),
    }),
    reset: endpoint({ subject: "cmd.*.reset", request: ResetCommand, ...answers<ResetAnswer>() }),
    release: endpoint({
      subject: "cmd.*.release",
      request: ReleaseCommand,
      ...answers<ReleaseAnswer>(),
    }),
  },
});
