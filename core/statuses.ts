/** Status groups shared by the execution path (DESIGN.md §3, SPEC.md §3). */

export const TASK_STATUSES = [
  "REGISTERING",
  "QUEUED",
  "INSTANTIATING",
  "LAUNCHED",
  "RUNNING",
  "DONE",
  "ERROR_RECOVERABLE",
  "ADJUSTING_RESOURCES",
  "ERROR_FATAL",
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const WORKFLOW_STATUSES = [
  "REGISTERING",
  "QUEUED",
  "RUNNING",
  "DONE",
  "FAILED",
  "HALTED",
  "ABORTED",
] as const;

/** Tasks that hold a concurrency slot: from queued until their instance ends. */
export const ACTIVE_TASK = ["QUEUED", "INSTANTIATING", "LAUNCHED", "RUNNING"] as const;

/** Tasks schedule may queue once nothing upstream is pending. */
export const READY_TASK = ["REGISTERING", "ADJUSTING_RESOURCES"] as const;

/** Tasks whose instance is out there, from launch until a result. */
export const INSTANCE_BOUND_TASK = ["INSTANTIATING", "LAUNCHED", "RUNNING"] as const;

/** Instance statuses that mean the attempt failed (what `drover errors` lists). */
export const ERROR_INSTANCE = [
  "ERROR",
  "RESOURCE_ERROR",
  "UNKNOWN_ERROR",
  "NO_HEARTBEAT",
  "NO_DISTRIBUTOR_ID",
  "KILL_SELF",
  "ERROR_FATAL",
] as const;

/**
 * Attempts that failed on their own: the errors less KILL_SELF, which a stop, a cold
 * resume or a workflow timeout ordered (`drover errors` counts those apart, as stops).
 */
export const FAILED_INSTANCE = ERROR_INSTANCE.filter((s) => s !== "KILL_SELF");

/** Task-instance statuses that hold the "one live instance per task" slot. */
export const LIVE_INSTANCE = ["QUEUED", "INSTANTIATED", "LAUNCHED", "RUNNING"] as const;

/** Instances a bridge can still report on (created by launch in INSTANTIATED). */
export const REPORTABLE_INSTANCE = ["INSTANTIATED", "LAUNCHED", "RUNNING"] as const;

/** Workflows that schedule works on. */
export const LIVE_WORKFLOW = ["QUEUED", "RUNNING"] as const;

/** Workflows that have ended: nothing more runs in them until a resume. */
export const ENDED_WORKFLOW = ["DONE", "FAILED", "HALTED", "ABORTED"] as const;

/** Workflows a resume may start again. */
export const RESUMABLE_WORKFLOW = ["FAILED", "HALTED"] as const;

/** Runs that are still going (a workflow's latest run, until it ends). */
export const LIVE_RUN = ["BOUND", "RUNNING", "HOT_RESUME", "COLD_RESUME"] as const;
