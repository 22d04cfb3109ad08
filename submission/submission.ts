/**
 * The in-memory Submission: what a spec file or the TypeScript client describes, after
 * expansion (foreach, upstream references) and unit parsing. Tasks refer to upstream
 * tasks by index into `tasks`. Arg and attribute values are strings (`1` and `"1"` are
 * the same value). Resources, resource scales, fallback queues and max_attempts stay per
 * level (workflow default, template, task): the binder resolves them (see resolve.ts).
 *
 * A Submission may share sub-objects between tasks (e.g. the resources of one foreach
 * entry): treat it as immutable.
 */
import { z } from "zod";
import { LIMITS } from "../core/limits.ts";
import { OPTION_VALUE, OPTION_VALUE_RULE } from "../core/option-values.ts";
import { envProblem, workingDirProblem } from "../core/task-env.ts";

/** Cluster, queue and project names: they reach a scheduler's command line (core/option-values.ts). */
const optionValue = z.string().regex(OPTION_VALUE, `must be ${OPTION_VALUE_RULE}`);

/** Where a command runs: an absolute path (a spec file's relative ones are resolved by the loader). */
const WorkingDir = z.string().check((ctx) => {
  const bad = workingDirProblem(ctx.value);
  if (bad) ctx.issues.push({ code: "custom", message: bad, input: ctx.value });
});

/** Variables for a command, over the submitter's environment (SPEC.md §4). */
export const EnvSchema = z.record(z.string(), z.string()).check((ctx) => {
  const bad = envProblem(ctx.value);
  if (bad) ctx.issues.push({ code: "custom", message: bad, input: ctx.value });
});

const positiveInt = z.int().positive().max(LIMITS.int);
const bytes = z.int().positive().max(LIMITS.bytes);
const attempts = z.int().positive().max(LIMITS.attempts);

export const NormalizedResourcesSchema = z.object({
  cores: z.int().positive().max(LIMITS.cores).optional(),
  memory_bytes: bytes.optional(),
  runtime_seconds: positiveInt.optional(),
  queue: optionValue.optional(),
  project: optionValue.optional(),
});
export type NormalizedResources = z.infer<typeof NormalizedResourcesSchema>;

/**
 * A factor f (new = ceil(old × (1 + f)), cumulative) or the value for each retry in turn,
 * bounded like the column the value goes to: memory in bytes, runtime in seconds.
 */
const scale = (amount: typeof bytes) => z.union([z.number().positive(), z.array(amount).min(1)]);

export const ResourceScalesSchema = z.object({
  memory: scale(bytes).optional(),
  runtime: scale(positiveInt).optional(),
});
export type ResourceScales = z.infer<typeof ResourceScalesSchema>;

export const TemplateSpecSchema = z.object({
  name: z.string(),
  command: z.string(),
  node_args: z.array(z.string()),
  task_args: z.array(z.string()),
  op_args: z.array(z.string()),
  cluster: optionValue.optional(),
  resources: NormalizedResourcesSchema.optional(),
  resource_scales: ResourceScalesSchema.optional(),
  fallback_queues: z.array(optionValue).optional(),
  /** For its tasks that set none; absent = the workflow's default_max_attempts. */
  max_attempts: attempts.optional(),
  max_concurrently_running: z.int().nonnegative().max(LIMITS.int).optional(),
  working_dir: WorkingDir.optional(),
  env: EnvSchema.optional(),
});
export type TemplateSpec = z.infer<typeof TemplateSpecSchema>;

export const TaskSpecSchema = z.object({
  template: z.string(),
  name: z.string(),
  args: z.record(z.string(), z.string()),
  /** Indices into Submission.tasks. */
  upstream: z.array(z.int().nonnegative()),
  max_attempts: attempts.optional(),
  resources: NormalizedResourcesSchema.optional(),
  cluster: optionValue.optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  /** Merged over the template's, resource by resource. */
  resource_scales: ResourceScalesSchema.optional(),
  /** Replaces the template's list. */
  fallback_queues: z.array(optionValue).optional(),
  working_dir: WorkingDir.optional(),
  env: EnvSchema.optional(),
});
export type TaskSpec = z.infer<typeof TaskSpecSchema>;

export const WorkflowArgValueSchema = z.union([z.string(), z.number(), z.boolean()]);
export type WorkflowArgValue = z.infer<typeof WorkflowArgValueSchema>;

export const WorkflowSpecSchema = z.object({
  /** Display name, free text. */
  name: z.string().min(1),
  /** The workflow's identity with the tool; absent = a new workflow on every submit. */
  args: z.record(z.string(), WorkflowArgValueSchema).optional(),
  max_concurrently_running: z.int().nonnegative().max(LIMITS.int).optional(),
  default_cluster: optionValue.default("local"),
  default_resources: NormalizedResourcesSchema.optional(),
  default_max_attempts: attempts.default(3),
  fail_fast: z.boolean().default(false),
  attributes: z.record(z.string(), z.string()).optional(),
  timeout_seconds: positiveInt.optional(),
  /** where commands run; absent on the wire: the submitter's folder is filled in by the client */
  working_dir: WorkingDir.optional(),
  env: EnvSchema.optional(),
});
export type WorkflowSpec = z.infer<typeof WorkflowSpecSchema>;

export const ToolSpecSchema = z.object({
  name: z.string(),
  version: z.string().min(1).default("1"),
});
export type ToolSpec = z.infer<typeof ToolSpecSchema>;

export const SubmissionSchema = z.object({
  tool: ToolSpecSchema,
  workflow: WorkflowSpecSchema,
  templates: z.array(TemplateSpecSchema),
  tasks: z.array(TaskSpecSchema),
});
export type Submission = z.infer<typeof SubmissionSchema>;
/** A Submission before defaults are applied (what SubmissionSchema.parse accepts). */
export type SubmissionInput = z.input<typeof SubmissionSchema>;

/**
 * The identity of a task within a workflow: template + node_args values. Values are
 * length-prefixed so that no choice of values can make two identities collide.
 */
export function identityKey(
  template: string,
  nodeArgs: readonly string[],
  args: Readonly<Record<string, string>>,
): string {
  let key = template;
  for (const a of nodeArgs) {
    const v = args[a] ?? "";
    key += `\u0000${v.length}:${v}`;
  }
  return key;
}
