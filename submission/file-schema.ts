/**
 * The spec-file format of SPEC.md §1 as a zod schema. It is published as a JSON
 * Schema (see specFileJsonSchema), so it only checks shapes: no transforms. Unit
 * strings, names and references are checked while expanding (expand.ts), where the
 * messages can name the task.
 */

import { z } from "zod";
import { LIMITS } from "../core/limits.ts";

const SCALAR_ERROR = "expected a string, number or boolean";
const Scalar = z.union([z.string(), z.number(), z.boolean()], { error: SCALAR_ERROR });
const Memory = z
  .union([z.string(), z.number()], { error: 'expected an amount like "2G" or a number of GiB' })
  .meta({ description: "512M, 2G, 1.5G, 1T (K/M/G/T, optional B or iB, powers of 1024) or GiB" });
const Runtime = z
  .union([z.string(), z.number()], { error: 'expected a duration like "30m" or seconds' })
  .meta({ description: "90s, 10m, 2h, 1d, HH:MM:SS, D-HH:MM:SS or a number of seconds" });
const ArgNames = z.array(z.string());
const WorkingDir = z.string().min(1).meta({
  description:
    "Where the command runs: absolute, or relative to this file's folder. Default: the folder drover submit ran in",
});
const Env = z.record(z.string(), Scalar).meta({
  description:
    "Variables for the command, over the submitter's environment as captured at submit (the nearest level wins)",
});

/** A whole number of at least `min`, with a message users understand. */
export function wholeNumber(min: number, max: number = LIMITS.int) {
  return z
    .int({ error: "expected a whole number" })
    .min(min, { error: `must be a whole number of at least ${min}` })
    .max(max, { error: `must be at most ${max}` });
}

const ResourcesFile = z
  .strictObject({
    cores: wholeNumber(1, LIMITS.cores).optional(),
    memory: Memory.optional(),
    runtime: Runtime.optional(),
    queue: z.string().min(1).optional(),
    project: z.string().min(1).optional(),
  })
  .meta({ description: "Compute resources; each level overrides the one above it" });

const TemplateResourcesFile = z.record(z.string(), ResourcesFile).meta({
  description:
    "Default resources per template, e.g. from `drover resources WF --yaml`: over the " +
    "template's own resources, under a task's",
});

const scale = (amount: typeof Memory | typeof Runtime) =>
  z.union([z.number().positive(), z.array(amount).min(1)], {
    error: "expected a factor (e.g. 0.5) or a list of amounts, one per retry",
  });

const ResourceScalesFile = z
  .strictObject({ memory: scale(Memory).optional(), runtime: scale(Runtime).optional() })
  .meta({ description: "Growth after a resource error: factor f → ceil(old × (1 + f))" });

const FallbackQueues = z
  .array(z.string().min(1))
  .meta({ description: "Queues to move to when a retry outgrows the current one" });

export const TemplateFileSchema = z.strictObject({
  name: z.string(),
  command: z.string().min(1).meta({ description: "Shell command with {arg} placeholders" }),
  node_args: ArgNames.optional().meta({ description: "Identity within the workflow" }),
  task_args: ArgNames.optional().meta({ description: "Identity across workflows" }),
  op_args: ArgNames.optional().meta({ description: "Not part of identity" }),
  cluster: z.string().min(1).optional(),
  resources: ResourcesFile.optional(),
  resource_scales: ResourceScalesFile.optional(),
  fallback_queues: FallbackQueues.optional(),
  max_attempts: wholeNumber(1, LIMITS.attempts)
    .optional()
    .meta({ description: "For its tasks; overrides the workflow's default_max_attempts" }),
  max_concurrently_running: wholeNumber(0).optional(),
  working_dir: WorkingDir.optional(),
  env: Env.optional(),
});

export const UpstreamRefSchema = z.union(
  [
    z.string().meta({ description: "A task name" }),
    z.strictObject({
      template: z.string(),
      match: ArgNames.optional().meta({
        description: "Args whose values must equal this task's; absent = every task of it",
      }),
    }),
  ],
  { error: "expected a task name or {template, match}" },
);

export const TaskFileSchema = z.strictObject({
  template: z.string(),
  name: z.string().optional(),
  args: z.record(z.string(), Scalar).optional(),
  foreach: z
    .record(z.string(), z.array(Scalar).min(1))
    .optional()
    .meta({ description: "Cross product over the listed args: one task per combination" }),
  upstream: z.array(UpstreamRefSchema).optional(),
  max_attempts: wholeNumber(1, LIMITS.attempts).optional(),
  resources: ResourcesFile.optional(),
  cluster: z.string().min(1).optional(),
  attributes: z.record(z.string(), Scalar).optional(),
  resource_scales: ResourceScalesFile.optional().meta({
    description: "Growth after a resource error; overrides the template's, resource by resource",
  }),
  fallback_queues: FallbackQueues.optional().meta({
    description: "Queues to move to when a retry outgrows the current one; replaces the template's",
  }),
  working_dir: WorkingDir.optional(),
  env: Env.optional(),
});

export const WorkflowFileSchema = z.strictObject({
  name: z.string().min(1).meta({ description: "Display name (free text)" }),
  args: z
    .record(z.string(), Scalar)
    .optional()
    .meta({ description: "The workflow's identity; absent = a new workflow on every submit" }),
  max_concurrently_running: wholeNumber(0).optional(),
  default_cluster: z.string().min(1).optional(),
  default_resources: ResourcesFile.optional(),
  default_max_attempts: wholeNumber(1, LIMITS.attempts).optional(),
  fail_fast: z.boolean().optional(),
  attributes: z.record(z.string(), Scalar).optional(),
  timeout_seconds: wholeNumber(1).optional(),
  working_dir: WorkingDir.optional(),
  env: Env.optional(),
});

export const SpecFileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    tool: z.strictObject({
      name: z.string(),
      version: z.union([z.string().min(1), z.number()]).optional(),
    }),
    workflow: WorkflowFileSchema,
    templates: z.array(TemplateFileSchema),
    tasks: z.array(TaskFileSchema),
    include: z
      .array(z.string().min(1))
      .optional()
      .meta({
        description:
          "Files (paths relative to this one) whose template_resources are merged in; " +
          "later files win over earlier ones, this file's own template_resources over all",
      }),
    template_resources: TemplateResourcesFile.optional(),
  })
  .meta({ title: "Drover workflow spec", description: "SPEC.md §1" });

/** A file named by `include`: only what may be shared between spec files. */
export const IncludeFileSchema = z.strictObject({
  $schema: z.string().optional(),
  template_resources: TemplateResourcesFile.optional(),
});

export type SpecFile = z.infer<typeof SpecFileSchema>;
export type TemplateFile = z.infer<typeof TemplateFileSchema>;
export type ResourcesFile = z.infer<typeof ResourcesFile>;
export type TaskFile = z.infer<typeof TaskFileSchema>;
export type UpstreamRef = z.infer<typeof UpstreamRefSchema>;

/**
 * The spec-file format as a JSON Schema (draft 2020-12), for editors and other clients.
 * Published as submission/spec-file.schema.json; a test keeps it current. Regenerate with
 * `npx tsx -e "import('./submission/file-schema.ts').then((m) => console.log(JSON.stringify(m.specFileJsonSchema(), null, 2)))" > submission/spec-file.schema.json`
 */
export function specFileJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(SpecFileSchema, { io: "input" }) as Record<string, unknown>;
}

/**
 * zod issues as problem lines: `tasks[2].resources.memory (task "prep_1"): …`. `raw` is
 * the parsed document, used to name the task an issue is in.
 */
export function issueProblems(issues: readonly z.core.$ZodIssue[], raw: unknown): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = pathText(issue.path);
    const label = taskLabel(issue.path, raw);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push(`${path === "" ? key : `${path}.${key}`}${label}: unknown key`);
      }
    } else {
      out.push(`${path || "(top level)"}${label}: ${issueMessage(issue)}`);
    }
  }
  return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) {
    return "is required";
  }
  return issue.message.replace(/^Invalid input: /, "");
}

function pathText(path: readonly PropertyKey[]): string {
  let text = "";
  for (const p of path) {
    if (typeof p === "number") text += `[${p}]`;
    else text += text === "" ? String(p) : `.${String(p)}`;
  }
  return text;
}

/** ` (task "name")` or ` (template "t")` for a path inside tasks[N], else "". */
function taskLabel(path: readonly PropertyKey[], raw: unknown): string {
  if (path[0] !== "tasks" || typeof path[1] !== "number") return "";
  const entry = (raw as { tasks?: unknown[] } | null)?.tasks?.[path[1]];
  if (typeof entry !== "object" || entry === null) return "";
  const { name, template } = entry as { name?: unknown; template?: unknown };
  if (typeof name === "string") return ` (task ${JSON.stringify(name)})`;
  if (typeof template === "string") return ` (template ${JSON.stringify(template)})`;
  return "";
}
