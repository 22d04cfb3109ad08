import { z } from "zod";
import { TASK_STATUSES, WORKFLOW_STATUSES } from "../core/statuses.ts";
import { answers, endpoint, service } from "./contract.ts";
import type { LimitsView } from "./schemas.ts";

/**
 * Read models over core NATS request/reply (not JetStream), served by the query service
 * (functions/query) in the queue group `query`, so any number of replicas share the
 * load (the service contract is at the end). Requests are JSON; every answer is JSON,
 * either the result or `{ error }` naming the problem (unknown id, bad request). Ids and
 * counts are numbers, times ISO 8601. Shapes follow the CLI's `--json` output (SPEC.md §2).
 */

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
  /** failed attempts listed in `errors`, newest first */
  limit: z.number().int().positive().max(MAX_QUERY_ROWS).default(1000),
  /** groups listed in `groups`, the most recent first */
  group_limit: z.number().int().positive().max(1000).default(50),
  /** only this template's attempts (by name) */
  template: z.string().min(1).optional(),
  /** only this task's attempts */
  task_id: id.optional(),
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

/** Neighbours per direction and answer unless asked otherwise. */
export const DEPENDENCIES_PAGE = 100;
/** At most, per direction: an answer holds two directions and must stay under 1 MB. */
export const DEPENDENCIES_MAX = 2000;

export const DependenciesQuery = z.object({
  task_id: id,
  /** neighbours per direction (a page of each; the totals are given apart) */
  limit: z.number().int().positive().max(DEPENDENCIES_MAX).default(DEPENDENCIES_PAGE),
  offset: z.number().int().nonnegative().default(0),
});

export const ResourcesQuery = z.object({
  workflow_id: id,
  /** one template of the workflow, by name */
  template: z.string().min(1).optional(),
});

export const LogsQuery = z.object({
  task_id: id,
  /** which file: the command's standard output or its standard error */
  stream: z.enum(["stdout", "stderr"]).default("stdout"),
  /** the task's Nth instance, from 1 in the order they were made; the latest when absent */
  attempt: z.number().int().positive().optional(),
});

export const EnvironmentQuery = z.object({ task_id: id });

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
  /** how many tasks may run at once, of the workflow and per template (null: no limit, 0: paused) */
  limits: LimitsView;
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
  /**
   * A REGISTERING task held back by upstream tasks not DONE: the failed ones among its
   * ancestors (the first few, and how many), and its direct upstream tasks not DONE.
   */
  blocked_by?: {
    failed: { id: number; name: string; template: string; status: string }[];
    failed_total: number;
    pending_upstream: number;
  };
}

export interface ErrorsAnswer {
  /** failed attempts, newest first (not those killed by a stop: see `stopped`) */
  errors: {
    task: number;
    task_name: string;
    instance: number;
    exit_code: number | null;
    message: string;
    time: string;
  }[];
  /** failed attempts in all (beyond the limit too) */
  total: number;
  /** the same attempts grouped by similar message, the group that failed last first */
  groups: {
    signature: string;
    kind: string | null;
    template: string;
    /** attempts */
    count: number;
    tasks: number;
    first_at: string;
    last_at: string;
    example: {
      task: number;
      task_name: string;
      instance: number;
      exit_code: number | null;
      message: string;
      time: string;
    };
  }[];
  /** groups in all */
  group_count: number;
  /** attempts killed by a stop, a cold resume or a workflow timeout: not failures */
  stopped: { attempts: number; tasks: number };
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
    /** how many of its tasks may run at once (null: no limit; 0: paused) */
    limit: number | null;
    /** the workflow or one of its templates is paused (limit 0) */
    paused: boolean;
  }[];
}

export interface DependencyTask {
  id: number;
  name: string;
  template: string;
  status: string;
}

/** A task's direct neighbours: one page each way (ordered by id) and the totals. */
export interface DependenciesAnswer {
  task: DependencyTask;
  upstream: DependencyTask[];
  upstream_total: number;
  downstream: DependencyTask[];
  downstream_total: number;
  limit: number;
  offset: number;
}

/** Statistics of one resource over a template's DONE instances (null without any). */
export interface UsageStats {
  min: number | null;
  max: number | null;
  mean: number | null;
  median: number | null;
  p90: number | null;
  p95: number | null;
}

export interface ResourceUsage {
  /** DONE instances with a measurement of this resource */
  measured: number;
  used: UsageStats;
  /** what the DONE instances asked for */
  requested: { min: number | null; max: number | null };
}

/**
 * Per template of a workflow, over its DONE instances: memory in bytes, runtime in
 * seconds; cores and queue as the DONE instances were launched with (the largest cores,
 * the queue most of them ran on). Templates without a DONE instance are listed with
 * `done: 0` and nulls.
 */
export interface ResourcesAnswer {
  workflow: number;
  templates: {
    template: string;
    done: number;
    memory: ResourceUsage;
    runtime: ResourceUsage;
    cores: number | null;
    queue: string | null;
  }[];
}

/**
 * Where one attempt's log file is, for the task's owner and admins only (anyone else is
 * refused, naming the owner). Contents are not carried: the file is the owner's, read
 * by the owner on a host that has it (the query service may not be able to read it).
 */
export interface LogsAnswer {
  task: number;
  task_name: string;
  workflow: number;
  attempt: number;
  /** instances the task has had */
  attempts: number;
  instance: number;
  status: string;
  /** false while the instance may still write to the file */
  ended: boolean;
  cluster: string;
  /** the workflow's owner (a user token): their bridge of `cluster` can read the file */
  owner: string | null;
  node: string | null;
  stream: "stdout" | "stderr";
  /** null until its bridge has reported where the file is */
  path: string | null;
}

/**
 * The environment and folder a task's command gets, as captured at submit (credentials
 * and Drover's own settings left out), for the task's owner and admins only. Nulls for
 * a workflow bound before environments were stored.
 */
export interface EnvironmentAnswer {
  task: number;
  working_dir: string | null;
  env: Record<string, string> | null;
}

export interface QueryError {
  error: string;
}

export type WorkflowQuery = z.input<typeof WorkflowQuery>;
export type TasksQuery = z.input<typeof TasksQuery>;
export type TaskQuery = z.input<typeof TaskQuery>;
export type ErrorsQuery = z.input<typeof ErrorsQuery>;
export type WorkflowsQuery = z.input<typeof WorkflowsQuery>;
export type DependenciesQuery = z.input<typeof DependenciesQuery>;
export type ResourcesQuery = z.input<typeof ResourcesQuery>;
export type LogsQuery = z.input<typeof LogsQuery>;
export type EnvironmentQuery = z.input<typeof EnvironmentQuery>;

/** `query.<what>`, served in the queue group `query` (functions/query). */
export const QueryService = service({
  name: "query",
  subjects: "query.*.*",
  queue: "query",
  endpoints: {
    workflow: endpoint({
      subject: "query.*.workflow",
      request: WorkflowQuery,
      ...answers<WorkflowAnswer>(),
    }),
    tasks: endpoint({ subject: "query.*.tasks", request: TasksQuery, ...answers<TasksAnswer>() }),
    task: endpoint({ subject: "query.*.task", request: TaskQuery, ...answers<TaskAnswer>() }),
    errors: endpoint({
      subject: "query.*.errors",
      request: ErrorsQuery,
      ...answers<ErrorsAnswer>(),
    }),
    workflows: endpoint({
      subject: "query.*.workflows",
      request: WorkflowsQuery,
      ...answers<WorkflowsAnswer>(),
    }),
    dependencies: endpoint({
      subject: "query.*.dependencies",
      request: DependenciesQuery,
      ...answers<DependenciesAnswer>(),
    }),
    resources: endpoint({
      subject: "query.*.resources",
      request: ResourcesQuery,
      ...answers<ResourcesAnswer>(),
    }),
    logs: endpoint({ subject: "query.*.logs", request: LogsQuery, ...answers<LogsAnswer>() }),
    environment: endpoint({
      subject: "query.*.environment",
      request: EnvironmentQuery,
      ...answers<EnvironmentAnswer>(),
    }),
  },
});
