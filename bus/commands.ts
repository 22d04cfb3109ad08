import { z } from "zod";
import { Subjects } from "./subjects.ts";

/**
 * State-changing commands over core NATS request/reply (queue group `commands`), used
 * by the CLI and the GUI so that one code path changes state. Each is answered after
 * its change committed, so a query right after sees it. Answers are JSON: the result
 * (with `ok: true`) or `{ error }` naming the problem (unknown id, wrong state).
 */
export const CommandSubjects = {
  stop: `${Subjects.cmd}.stop`,
  resume: `${Subjects.cmd}.resume`,
  concurrency: `${Subjects.cmd}.concurrency`,
  setStatus: `${Subjects.cmd}.set-status`,
} as const;

export const COMMAND_QUEUE_GROUP = "commands";

const id = z.number().int().positive();

/** Stop scheduling, kill live instances (their tasks end ERROR_FATAL), workflow HALTED. */
export const StopCommand = z.object({ workflow_id: id });

/** Resume a FAILED or HALTED workflow in a new run; cold with reset_running. */
export const ResumeCommand = z.object({
  workflow_id: id,
  reset_running: z.boolean().default(false),
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

export const CommandSchemas = {
  [CommandSubjects.stop]: StopCommand,
  [CommandSubjects.resume]: ResumeCommand,
  [CommandSubjects.concurrency]: ConcurrencyCommand,
  [CommandSubjects.setStatus]: SetStatusCommand,
} as const;

export type StopCommand = z.input<typeof StopCommand>;
export type ResumeCommand = z.input<typeof ResumeCommand>;
export type ConcurrencyCommand = z.input<typeof ConcurrencyCommand>;
export type SetStatusCommand = z.input<typeof SetStatusCommand>;

export interface StopAnswer {
  ok: true;
  workflow_id: number;
  status: string;
  /** live instances ordered killed */
  killed: number;
}
export interface ResumeAnswer {
  ok: true;
  workflow_id: number;
  run_id: number;
  status: string;
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
}
export interface CommandError {
  error: string;
}
