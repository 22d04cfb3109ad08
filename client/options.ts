/**
 * Options of the client API, as zod schemas (camelCase) with their inferred types.
 * They mirror the spec-file format of SPEC.md §1 field for field.
 */
import { z } from "zod";
import { LIMITS } from "../core/limits.ts";
import { wholeNumber } from "../submission/file-schema.ts";

const Scalar = z.union([z.string(), z.number(), z.boolean()]);
const Amount = z.union([z.string(), z.number()]);
const Scale = z.union([z.number().positive(), z.array(Amount).min(1)]);
/** Where commands run: absolute, or relative to this process's folder. */
const WorkingDir = z.string().min(1);
/** Variables for the commands, over the submitter's environment (SPEC.md §4). */
const Env = z.record(z.string(), Scalar);

export const ResourcesOptionsSchema = z.strictObject({
  cores: wholeNumber(1, LIMITS.cores).optional(),
  /** `"2G"`, `"512M"`, … or a number of GiB. */
  memory: Amount.optional(),
  /** `"30m"`, `"2h"`, `"HH:MM:SS"`, … or a number of seconds. */
  runtime: Amount.optional(),
  queue: z.string().min(1).optional(),
  project: z.string().min(1).optional(),
});
export type ResourcesOptions = z.infer<typeof ResourcesOptionsSchema>;

export const ResourceScalesOptionsSchema = z.strictObject({
  /** A factor f (new = ceil(old × (1 + f))) or amounts for each retry in turn. */
  memory: Scale.optional(),
  runtime: Scale.optional(),
});
export type ResourceScalesOptions = z.infer<typeof ResourceScalesOptionsSchema>;

export const TemplateOptionsSchema = z.strictObject({
  name: z.string(),
  /** Shell command with `{arg}` placeholders. */
  command: z.string().min(1),
  /** Identity within the workflow. */
  nodeArgs: z.array(z.string()).optional(),
  /** Identity across workflows. */
  taskArgs: z.array(z.string()).optional(),
  /** Not part of identity. */
  opArgs: z.array(z.string()).optional(),
  cluster: z.string().min(1).optional(),
  resources: ResourcesOptionsSchema.optional(),
  resourceScales: ResourceScalesOptionsSchema.optional(),
  fallbackQueues: z.array(z.string().min(1)).optional(),
  /** For its tasks that set none; default: the workflow's defaultMaxAttempts. */
  maxAttempts: wholeNumber(1, LIMITS.attempts).optional(),
  maxConcurrentlyRunning: wholeNumber(0).optional(),
  workingDir: WorkingDir.optional(),
  env: Env.optional(),
});
export type TemplateOptions = z.infer<typeof TemplateOptionsSchema>;

/** The fields every task option object shares (upstream is typed separately). */
export const TaskCommonOptionsSchema = z.strictObject({
  maxAttempts: wholeNumber(1, LIMITS.attempts).optional(),
  resources: ResourcesOptionsSchema.optional(),
  cluster: z.string().min(1).optional(),
  attributes: z.record(z.string(), Scalar).optional(),
  /** Overrides the template's, resource by resource. */
  resourceScales: ResourceScalesOptionsSchema.optional(),
  /** Replaces the template's list. */
  fallbackQueues: z.array(z.string().min(1)).optional(),
  workingDir: WorkingDir.optional(),
  env: Env.optional(),
});
export type TaskCommonOptions = z.infer<typeof TaskCommonOptionsSchema>;

export const WorkflowOptionsSchema = z.strictObject({
  /** Display name (free text). */
  name: z.string().min(1),
  /** The workflow's identity with the tool; absent = a new workflow on every run. */
  args: z.record(z.string(), Scalar).optional(),
  maxConcurrentlyRunning: wholeNumber(0).optional(),
  defaultCluster: z.string().min(1).optional(),
  defaultResources: ResourcesOptionsSchema.optional(),
  defaultMaxAttempts: wholeNumber(1, LIMITS.attempts).optional(),
  failFast: z.boolean().optional(),
  attributes: z.record(z.string(), Scalar).optional(),
  timeoutSeconds: wholeNumber(1).optional(),
  /** Default: the folder the workflow is run from. */
  workingDir: WorkingDir.optional(),
  env: Env.optional(),
});
export type WorkflowOptions = z.infer<typeof WorkflowOptionsSchema>;
