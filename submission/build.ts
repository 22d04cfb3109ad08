/**
 * Builders of Submission parts shared by the spec-file loader and the TypeScript
 * client, so that both build exactly the same Submission (optional fields present only
 * when given, the same defaults, the same foreach order).
 */
import { Problems } from "./errors.ts";
import {
  normalizeResources,
  normalizeScales,
  type ResourceInput,
  type Scalar,
  type ScalesInput,
  stringRecord,
} from "./normalize.ts";
import type {
  NormalizedResources,
  ResourceScales,
  TaskSpec,
  TemplateSpec,
  WorkflowArgValue,
  WorkflowSpec,
} from "./submission.ts";

/** Optional task fields, added only when given (so that deep equality holds). */
export interface TaskExtras {
  max_attempts?: number | undefined;
  resources?: NormalizedResources | undefined;
  cluster?: string | undefined;
  attributes?: Record<string, string> | undefined;
  resource_scales?: ResourceScales | undefined;
  fallback_queues?: string[] | undefined;
  working_dir?: string | undefined;
  env?: Record<string, string> | undefined;
}

export function makeTask(
  template: string,
  name: string,
  args: Record<string, string>,
  upstream: number[],
  extras: TaskExtras,
): TaskSpec {
  const task: TaskSpec = { template, name, args, upstream };
  if (extras.max_attempts !== undefined) task.max_attempts = extras.max_attempts;
  if (extras.resources !== undefined) task.resources = extras.resources;
  if (extras.cluster !== undefined) task.cluster = extras.cluster;
  if (extras.attributes !== undefined) task.attributes = extras.attributes;
  if (extras.resource_scales !== undefined) task.resource_scales = extras.resource_scales;
  if (extras.fallback_queues !== undefined) task.fallback_queues = extras.fallback_queues;
  if (extras.working_dir !== undefined) task.working_dir = extras.working_dir;
  if (extras.env !== undefined) task.env = extras.env;
  return task;
}

/** The number of combinations of a foreach; 1 when there is none. */
export function productSize(foreach: readonly (readonly [string, readonly string[]])[]): number {
  let n = 1;
  for (const [, values] of foreach) n *= values.length;
  return n;
}

/**
 * Calls `emit` with the args of each combination of the cross product, the first key
 * varying slowest (like nested loops in key order). Each args object lists the
 * template's args in `argOrder`, values from the combination or else from `base`.
 * Time is linear in the number of combinations.
 */
export function forEachCombination(
  argOrder: readonly string[],
  base: Readonly<Record<string, string>>,
  foreach: readonly (readonly [string, readonly string[]])[],
  emit: (args: Record<string, string>) => void,
): void {
  const total = productSize(foreach);
  if (total === 0) return;
  const keys = foreach.map(([k]) => k);
  const lists = foreach.map(([, v]) => v);
  const slot = new Map<string, number>(keys.map((k, i) => [k, i]));
  const at = new Array<number>(keys.length).fill(0);
  const current: string[] = lists.map((l) => l[0] as string);
  // Per template arg: the foreach slot it comes from, or -1 for a base value.
  const source = argOrder.map((a) => slot.get(a) ?? -1);
  for (let n = 0; n < total; n++) {
    const args: Record<string, string> = {};
    for (let i = 0; i < argOrder.length; i++) {
      const s = source[i] as number;
      const name = argOrder[i] as string;
      const value = s < 0 ? base[name] : current[s];
      if (value !== undefined) args[name] = value;
    }
    emit(args);
    for (let k = keys.length - 1; k >= 0; k--) {
      const list = lists[k] as readonly string[];
      const next = (at[k] as number) + 1;
      if (next < list.length) {
        at[k] = next;
        current[k] = list[next] as string;
        break;
      }
      at[k] = 0;
      current[k] = list[0] as string;
    }
  }
}

/** Sorted, without duplicates; returns the same array when it already is. */
export function sortedUnique(indices: number[]): number[] {
  let ordered = true;
  for (let i = 1; i < indices.length; i++) {
    if ((indices[i] as number) <= (indices[i - 1] as number)) {
      ordered = false;
      break;
    }
  }
  if (ordered) return indices;
  const sorted = indices.slice().sort((a, b) => a - b);
  return sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
}

/** A template as written in a spec file (the client maps its camelCase options to it). */
export interface TemplateInput {
  name: string;
  command: string;
  node_args?: string[] | undefined;
  task_args?: string[] | undefined;
  op_args?: string[] | undefined;
  cluster?: string | undefined;
  resources?: ResourceInput | undefined;
  resource_scales?: ScalesInput | undefined;
  fallback_queues?: string[] | undefined;
  max_attempts?: number | undefined;
  max_concurrently_running?: number | undefined;
  working_dir?: string | undefined;
  env?: Record<string, Scalar> | undefined;
}

/** Throws SpecError (naming the template) on bad amounts. */
export function makeTemplate(input: TemplateInput): TemplateSpec {
  const label = `template ${JSON.stringify(input.name)}`;
  const problems = new Problems();
  const out: TemplateSpec = {
    name: input.name,
    command: input.command,
    node_args: [...(input.node_args ?? [])],
    task_args: [...(input.task_args ?? [])],
    op_args: [...(input.op_args ?? [])],
  };
  if (input.cluster !== undefined) out.cluster = input.cluster;
  if (input.resources !== undefined) {
    const r = problems.try(label, () => normalizeResources(input.resources as ResourceInput));
    if (r !== undefined) out.resources = r;
  }
  if (input.resource_scales !== undefined) {
    const s = problems.try(label, () => normalizeScales(input.resource_scales as ScalesInput));
    if (s !== undefined) out.resource_scales = s;
  }
  if (input.fallback_queues !== undefined) out.fallback_queues = [...input.fallback_queues];
  if (input.max_attempts !== undefined) out.max_attempts = input.max_attempts;
  if (input.max_concurrently_running !== undefined) {
    out.max_concurrently_running = input.max_concurrently_running;
  }
  if (input.working_dir !== undefined) out.working_dir = input.working_dir;
  if (input.env !== undefined) out.env = stringRecord(input.env);
  problems.throwIfAny();
  return out;
}

/** A workflow as written in a spec file (the client maps its camelCase options to it). */
export interface WorkflowInput {
  name: string;
  args?: Record<string, WorkflowArgValue> | undefined;
  max_concurrently_running?: number | undefined;
  default_cluster?: string | undefined;
  default_resources?: ResourceInput | undefined;
  default_max_attempts?: number | undefined;
  fail_fast?: boolean | undefined;
  attributes?: Record<string, Scalar> | undefined;
  timeout_seconds?: number | undefined;
  working_dir?: string | undefined;
  env?: Record<string, Scalar> | undefined;
}

/** Applies the defaults of SPEC.md §1. Throws SpecError on bad amounts or values. */
export function makeWorkflow(input: WorkflowInput): WorkflowSpec {
  const problems = new Problems();
  const out: WorkflowSpec = {
    name: input.name,
    default_cluster: input.default_cluster ?? "local",
    default_max_attempts: input.default_max_attempts ?? 3,
    fail_fast: input.fail_fast ?? false,
  };
  if (input.args !== undefined) out.args = { ...input.args };
  if (input.max_concurrently_running !== undefined) {
    out.max_concurrently_running = input.max_concurrently_running;
  }
  if (input.default_resources !== undefined) {
    const resources = input.default_resources;
    const r = problems.try("workflow default_resources", () => normalizeResources(resources));
    if (r !== undefined) out.default_resources = r;
  }
  if (input.attributes !== undefined) {
    const attributes = input.attributes;
    const a = problems.try("workflow attributes", () => stringRecord(attributes));
    if (a !== undefined) out.attributes = a;
  }
  if (input.timeout_seconds !== undefined) out.timeout_seconds = input.timeout_seconds;
  if (input.working_dir !== undefined) out.working_dir = input.working_dir;
  if (input.env !== undefined) out.env = stringRecord(input.env);
  problems.throwIfAny();
  return out;
}
