import { z } from "zod";
import { TASK_STATUSES, WORKFLOW_STATUSES } from "../store/statuses.ts";
import { Subjects } from "./subjects.ts";

/**
 * Read models over core NATS request/reply (not JetStream), served by the query service
 * (functions/query) in the queue group `query`, so any number of replicas share the
 * load. Requests are JSON; every answer is JSON, either the result or `{ error }` naming
 * the problem (unknown id, bad request). Ids and counts are numbers, times ISO 8601.
 * Shapes follow the CLI's `--json` output (SPEC.md §2).
 */
export const QuerySubjects = {
  workflow: `${Subjects.query}.workflow`,
  tasks: `${Subjects.query}.tasks`,
  task: `${Subjects.query}.task`,
  errors: `${Subjects.query}.errors`,
  workflows: `${Subjects.query}.workflows`,
} as const;

export const QUERY_QUEUE_GROUP = "query";

const id = z.number().int().positive();
const status = z
  .string()
  .transform((s) => s.toUpperCase())
  .pipe(z.enum(TASK_STATUSES));

/** Rows per answer at most: keeps a reply under NATS's 1 MB payload. */
export const MAX_QUERY_ROWS = 5000;

export const WorkflowQuery = z.object({ workflow_id: id });
export const TasksQuery = z.object({
  workflow_id: id,
  /** a task status, any case */
  status: status.optional(),
  limit: z.number().int().positive().max(MAX_QUERY_ROWS).default(1000),
  offset: z.number().int().nonnegative().default(0),
});
export const TaskQuery = z.object({ task_id: id });
export const ErrorsQuery = z.object({
  workflow_id: id,
  limit: z.number().int().positive().max(MAX_QUERY_ROWS).default(1000),
});

export const WorkflowsQuery = z.object({
  /** the submitting user */
  user: z.string().min(1).optional(),
  /** a workflow status, any case */
  status: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(WORKFLOW_STATUSES))
    .optional(),
  /** part of the name, any case */
  name: z.string().min(1).optional(),
  /** the newest first */
  limit: z.number().int().positive().max(1000).default(50),
});

export const QuerySchemas = {
  [QuerySubjects.workflow]: WorkflowQuery,
  [QuerySubjects.tasks]: TasksQuery,
  [QuerySubjects.task]: TaskQuery,
  [QuerySubjects.errors]: ErrorsQuery,
  [QuerySubjects.workflows]: WorkflowsQuery,
} as const;

export type TaskCounts = Record<z.infer<typeof status>, number>;

export interface WorkflowAnswer {
  id: number;
  name: string;
  status: string;
  /** number of tasks */
  total: number;
  /** all nine task statuses, zeros included */
  counts: TaskCounts;
  /** the latest run */
  run: { id: number; status: string } | null;
  created_at: string;
  status_at: string;
}

export interface TasksAnswer {
  workflow: number;
  /** tasks matching the filter (all pages) */
  total: number;
  tasks: { id: number; name: string; template: string; status: string; attempts: number }[];
}

export interface InstanceAnswer {
  id: number;
  status: string;
  exit_code: number | null;
  distributor_id: string | null;
  memory_requested: number | null;
  memory_used: number | null;
  runtime_used: number | null;
  stdout: string | null;
  stderr: string | null;
  error: string | null;
  node: string | null;
}

export interface TaskAnswer {
  id: number;
  name: string;
  workflow: number;
  template: string;
  status: string;
  attempts: number;
  max_attempts: number;
  command: string;
  instances: InstanceAnswer[];
}

export interface ErrorsAnswer {
  errors: {
    task: number;
    task_name: string;
    instance: number;
    exit_code: number | null;
    message: string;
    time: string;
  }[];
}

export interface WorkflowsAnswer {
  /** workflows matching the filter (beyond the limit too) */
  total: number;
  workflows: {
    id: number;
    name: string;
    status: string;
    user: string | null;
    tool: string;
    total: number;
    counts: TaskCounts;
    created_at: string;
  }[];
}

export interface QueryError {
  error: string;
}

export type WorkflowQuery = z.input<typeof WorkflowQuery>;
export type TasksQuery = z.input<typeof TasksQuery>;
export type TaskQuery = z.input<typeof TaskQuery>;
export type ErrorsQuery = z.input<typeof ErrorsQuery>;
export type WorkflowsQuery = z.input<typeof WorkflowsQuery>;
