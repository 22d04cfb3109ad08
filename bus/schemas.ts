import { z } from "zod";
import { LIMITS } from "../core/limits.ts";

/**
 * One zod schema per message, shared by publishers and consumers; bus/contracts.ts binds
 * each to its subject. Every message carries a version `v`; a consumer rejects versions
 * it does not know into the dead letters. These are public contracts.
 */
const v1 = z.literal(1);
const id = z.number().int().positive();
const ids = z.array(id).min(1);

export const SubmissionId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, "8 to 64 letters, digits, '-' or '_'");

export const WfBound = z.object({ v: v1, workflow_id: id, run_id: id });

export const SchedWake = z.object({ v: v1, workflow_id: id });

export const TaskQueued = z.object({ v: v1, workflow_id: id, task_ids: ids });

/** Bounded like the task columns they come from: cores smallint, bytes bigint, seconds int. */
export const LaunchResources = z.object({
  cores: z.number().int().positive().max(LIMITS.cores),
  memory_bytes: z.number().int().positive().max(LIMITS.bytes),
  runtime_seconds: z.number().int().positive().max(LIMITS.int),
  project: z.string().nullable().optional(),
});

export const LaunchInstance = z.object({
  /** task instance id: the key of every result message */
  id,
  task_id: id,
  /** index of this instance in the batch (a Slurm array index) */
  step: z.number().int().nonnegative(),
  /** 1 for the task's first instance */
  attempt: z.number().int().positive(),
  name: z.string(),
  command: z.string(),
  /** the task's own `env`, over the batch's */
  env: z.record(z.string(), z.string()).optional(),
  /** the task's own working folder, over the batch's */
  working_dir: z.string().optional(),
});

/**
 * A workflow's limits as a bridge holds them: how many of its tasks may run at once,
 * in all and per template (null: not limited). `version` grows with every change of
 * any of them, so that a bridge keeps the newest whatever order batches and limit
 * orders arrive in.
 */
export const WorkflowLimits = z.object({
  version: z.number().int().nonnegative(),
  workflow: z.number().int().nonnegative().max(LIMITS.int).nullable(),
  templates: z.record(
    z.string().max(255),
    z.number().int().nonnegative().max(LIMITS.int).nullable(),
  ),
});

/** `launch.<cluster>`: one batch of instances that share cluster, queue, resources, array. */
export const LaunchBatch = z.object({
  v: v1,
  batch_id: id,
  workflow_id: id,
  cluster: z.string(),
  queue: z.string(),
  /** the tasks' template, for names a person can read (Slurm job names) */
  template: z.string().max(255).optional(),
  resources: LaunchResources,
  /** seconds within which the bridge must report each instance again */
  heartbeat_seconds: z.number().positive(),
  /**
   * The environment of every command of the batch (SPEC.md §4): the submitter's as
   * captured, the workflow's and the template's `env`. A bridge adds nothing of its own
   * environment; absent (an older publisher), a command gets only a PATH.
   */
  env: z.record(z.string(), z.string()).optional(),
  /** where its commands run; absent: the bridge user's home */
  working_dir: z.string().optional(),
  /** the workflow's limits when the batch was made; absent: the bridge limits nothing */
  limits: WorkflowLimits.optional(),
  instances: z.array(LaunchInstance).min(1),
});

export const TiLaunched = z.object({
  v: v1,
  cluster: z.string(),
  instances: z
    .array(
      z.object({
        id,
        distributor_id: z.string().max(200),
        stdout: z.string().max(4096).optional(),
        stderr: z.string().max(4096).optional(),
      }),
    )
    .min(1),
});

export const TiRunning = z.object({
  v: v1,
  instances: z
    .array(
      z.object({ id, node: z.string().max(255).optional(), distributor_id: z.string().optional() }),
    )
    .min(1),
});

export const TiHeartbeat = z.object({ v: v1, instance_ids: ids });

const Usage = {
  runtime_used: z.number().nonnegative().optional(),
  memory_used: z.number().int().nonnegative().optional(),
  node: z.string().max(255).optional(),
};

export const TiDone = z.object({
  v: v1,
  results: z.array(z.object({ id, exit_code: z.number().int().optional(), ...Usage })).min(1),
});

/**
 * How an instance failed. `memory` and `runtime`: killed for exceeding that resource
 * (only that one is scaled on retry); `lost`: the node or bridge went away (retry
 * unchanged); `killed`: by our own order (stop / cold resume); `error`: the command failed;
 * `unlaunchable`: its launch batch can never be sent (larger than a NATS message may be),
 * so no retry can run it (ERROR_FATAL at once).
 */
export const ErrorKind = z.enum(["error", "memory", "runtime", "lost", "killed", "unlaunchable"]);

export const TiError = z.object({
  v: v1,
  results: z
    .array(
      z.object({
        id,
        kind: ErrorKind,
        exit_code: z.number().int().nullable().optional(),
        message: z.string().max(2000),
        stderr_tail: z.string().max(10240).optional(),
        ...Usage,
      }),
    )
    .min(1),
});

export const KillOrder = z.object({ v: v1, instance_ids: ids, reason: z.string().max(200) });

/** A workflow's limits changed: its bridges start no more of its tasks than they allow. */
export const LimitOrder = z.object({ v: v1, workflow_id: id, limits: WorkflowLimits });

export const BridgeHeartbeat = z.object({
  v: v1,
  cluster: z.string(),
  bridge_id: z.string(),
  live_instances: z.number().int().nonnegative(),
  /** the bridge's counters (e.g. sbatch and sacct calls), for monitoring */
  counters: z.record(z.string(), z.number()).optional(),
});

/** Limits of one queue; null = not limited. */
export const QueueLimits = z.object({
  name: z.string().min(1).max(255),
  max_cores: z.number().int().positive().nullable(),
  max_memory_bytes: z.number().int().positive().nullable(),
  max_runtime_seconds: z.number().int().positive().nullable(),
});

/**
 * `cluster.queues`: the queues a bridge's cluster has (a Slurm cluster's partitions),
 * default queue first. Registered (upserted) by register-queues; bridges have no database.
 */
export const ClusterQueues = z.object({
  v: v1,
  cluster: z.string().min(1),
  kind: z.enum(["slurm", "external"]),
  queues: z.array(QueueLimits).min(1),
});

export const DeadLetter = z.object({
  v: v1,
  function: z.string(),
  subject: z.string(),
  reason: z.string(),
  /** the original payload as text (truncated to 64 KiB) */
  data: z.string(),
  deliveries: z.number().int(),
  at: z.string(),
});

export type WfBound = z.infer<typeof WfBound>;
export type SchedWake = z.infer<typeof SchedWake>;
export type TaskQueued = z.infer<typeof TaskQueued>;
export type LaunchBatch = z.infer<typeof LaunchBatch>;
export type LaunchInstance = z.infer<typeof LaunchInstance>;
export type TiLaunched = z.infer<typeof TiLaunched>;
export type TiRunning = z.infer<typeof TiRunning>;
export type TiHeartbeat = z.infer<typeof TiHeartbeat>;
export type TiDone = z.infer<typeof TiDone>;
export type TiError = z.infer<typeof TiError>;
export type ErrorKind = z.infer<typeof ErrorKind>;
export type KillOrder = z.infer<typeof KillOrder>;
export type WorkflowLimits = z.infer<typeof WorkflowLimits>;
/** A workflow's limits as answers show them (without the bridges' version). */
export type LimitsView = Omit<WorkflowLimits, "version">;
export type LimitOrder = z.infer<typeof LimitOrder>;
export type BridgeHeartbeat = z.infer<typeof BridgeHeartbeat>;
export type QueueLimits = z.infer<typeof QueueLimits>;
export type ClusterQueues = z.infer<typeof ClusterQueues>;
export type DeadLetter = z.infer<typeof DeadLetter>;
