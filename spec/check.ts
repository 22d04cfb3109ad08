/**
 * Structural checks of templates and single tasks, shared by validateSubmission and
 * the streaming DagReader. Each adds problem lines naming the template or task.
 */

import { checkArgName, commandPlaceholders } from "./command.ts";
import type { Problems } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import { checkName } from "./names.ts";
import type { NormalizedResources, ResourceScales, TaskSpec, TemplateSpec } from "./submission.ts";

/** What task checks need of a template, computed once. */
export interface TemplateInfo {
  readonly spec: TemplateSpec;
  readonly argSet: ReadonlySet<string>;
  readonly argCount: number;
}

export function templateInfo(spec: TemplateSpec): TemplateInfo {
  const argSet = new Set([...spec.node_args, ...spec.task_args, ...spec.op_args]);
  return { spec, argSet, argCount: argSet.size };
}

export function checkTemplate(t: TemplateSpec, problems: Problems): void {
  const nameProblem = checkName("template", t.name);
  if (nameProblem) problems.add(nameProblem);
  const label = `template ${JSON.stringify(t.name)}`;
  if (t.command.trim() === "") problems.add(`${label}: command is empty`);
  const seen = new Set<string>();
  for (const list of [t.node_args, t.task_args, t.op_args]) {
    for (const a of list) {
      const bad = checkArgName(a);
      if (bad) problems.add(`${label}: ${bad}`);
      else if (seen.has(a)) problems.add(`${label}: arg "${a}" is listed more than once`);
      seen.add(a);
    }
  }
  for (const p of commandPlaceholders(t.command)) {
    if (!seen.has(p)) {
      problems.add(`${label}: command placeholder {${p}} is not among the template's args`);
    }
  }
  checkResources(t.resources, label, problems);
  checkScales(t.resource_scales, label, problems);
  if (t.cluster !== undefined && t.cluster === "") problems.add(`${label}: cluster is empty`);
  checkCount(t.max_concurrently_running, 0, `${label}: max_concurrently_running`, problems);
}

/** Checks one task against its template (undefined = unknown template). */
export function checkTask(
  task: TaskSpec,
  template: TemplateInfo | undefined,
  problems: Problems,
): void {
  // The common case (a valid task) takes the fast path, building no strings.
  if (!taskIsValid(task, template)) reportTask(task, template, problems);
}

function taskIsValid(task: TaskSpec, template: TemplateInfo | undefined): boolean {
  if (template === undefined || checkName("task", task.name) !== null) return false;
  let given = 0;
  for (const k in task.args) {
    given++;
    if (!template.argSet.has(k) || typeof task.args[k] !== "string") return false;
  }
  if (given !== template.argCount) return false;
  const { max_attempts, resources, attributes } = task;
  if (!inRange(max_attempts, LIMITS.attempts)) return false;
  if (resources !== undefined && !resourcesAreValid(resources)) return false;
  if (task.cluster === "") return false;
  if (attributes !== undefined) {
    for (const k in attributes) if (typeof attributes[k] !== "string") return false;
  }
  return true;
}

function resourcesAreValid(r: NormalizedResources): boolean {
  return (
    inRange(r.cores, LIMITS.cores) &&
    inRange(r.memory_bytes, Number.MAX_SAFE_INTEGER) &&
    inRange(r.runtime_seconds, LIMITS.int) &&
    r.queue !== ""
  );
}

/** Every problem of a task that taskIsValid rejected. */
function reportTask(task: TaskSpec, template: TemplateInfo | undefined, problems: Problems): void {
  const nameProblem = checkName("task", task.name);
  if (nameProblem) problems.add(nameProblem);
  const label = `task ${JSON.stringify(task.name)}`;
  if (template === undefined) {
    problems.add(`${label}: unknown template ${JSON.stringify(task.template)}`);
    return;
  }
  for (const k in task.args) {
    if (!template.argSet.has(k)) {
      problems.add(`${label}: arg "${k}" is not an arg of template "${template.spec.name}"`);
    } else if (typeof task.args[k] !== "string") {
      problems.add(`${label}: arg "${k}" must be a string`);
    }
  }
  for (const a of template.argSet) {
    if (!Object.hasOwn(task.args, a)) problems.add(`${label}: arg "${a}" is missing`);
  }
  checkCount(task.max_attempts, 1, `${label}: max_attempts`, problems, LIMITS.attempts);
  checkResources(task.resources, label, problems);
  if (task.cluster === "") problems.add(`${label}: cluster is empty`);
  if (task.attributes !== undefined) {
    for (const k in task.attributes) {
      if (typeof task.attributes[k] !== "string") {
        problems.add(`${label}: attribute "${k}" must be a string`);
      }
    }
  }
}

export function checkResources(
  r: NormalizedResources | undefined,
  label: string,
  problems: Problems,
): void {
  if (r === undefined) return;
  checkCount(r.cores, 1, `${label}: cores`, problems, LIMITS.cores);
  checkCount(r.memory_bytes, 1, `${label}: memory`, problems, Number.MAX_SAFE_INTEGER);
  checkCount(r.runtime_seconds, 1, `${label}: runtime`, problems);
  if (r.queue === "") problems.add(`${label}: queue is empty`);
}

function checkScales(s: ResourceScales | undefined, label: string, problems: Problems): void {
  for (const key of ["memory", "runtime"] as const) {
    const v = s?.[key];
    if (v === undefined) continue;
    const what = `${label}: resource_scales ${key}`;
    if (typeof v === "number") {
      if (!(v > 0 && Number.isFinite(v))) problems.add(`${what} factor must be more than zero`);
    } else if (v.length === 0) problems.add(`${what} list is empty`);
    else for (const x of v) checkCount(x, 1, what, problems);
  }
}

/** An optional whole number of at least `min` and at most `max` (what its column holds). */
export function checkCount(
  value: number | undefined,
  min: number,
  what: string,
  problems: Problems,
  max: number = LIMITS.int,
): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min) {
    problems.add(`${what} ${value} must be a whole number of at least ${min}`);
  } else if (value > max) problems.add(`${what} ${value} must be at most ${max}`);
}

function inRange(v: number | undefined, max: number): boolean {
  return v === undefined || (Number.isSafeInteger(v) && v >= 1 && v <= max);
}
