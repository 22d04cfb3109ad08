/**
 * Structural checks of templates and single tasks, shared by validateSubmission and
 * the streaming DagReader. Each adds problem lines naming the template or task.
 */

import { CAPS, exceedsBytes, formatBytes, LIMITS } from "../core/limits.ts";
import { OPTION_VALUE, optionValueProblem } from "../core/option-values.ts";
import { envProblem, workingDirProblem } from "../core/task-env.ts";
import { isStorableText, textProblem } from "../core/text.ts";
import { COMMAND_TOKEN, checkArgName, commandPlaceholders, renderCommand } from "./command.ts";
import { Problems } from "./errors.ts";
import { checkName } from "./names.ts";
import type { NormalizedResources, ResourceScales, TaskSpec, TemplateSpec } from "./submission.ts";

/** What task checks need of a template, computed once. */
export interface TemplateInfo {
  readonly spec: TemplateSpec;
  readonly argSet: ReadonlySet<string>;
  readonly argCount: number;
  /** an upper bound of the command's bytes without its values */
  readonly commandBytes: number;
  /** per arg, what one byte of its value adds at most to the command (plain 1, quoted 4) */
  readonly inserted: ReadonlyMap<string, { perByte: number; fixed: number }>;
}

export function templateInfo(spec: TemplateSpec): TemplateInfo {
  const argSet = new Set([...spec.node_args, ...spec.task_args, ...spec.op_args]);
  const inserted = new Map<string, { perByte: number; fixed: number }>();
  for (const m of spec.command.matchAll(COMMAND_TOKEN)) {
    if (m[1] === undefined) continue;
    const slot = inserted.get(m[1]) ?? { perByte: 0, fixed: 0 };
    // shellQuote writes each ' as '\'' and adds two quotes.
    if (m[2] === undefined) slot.perByte += 1;
    else {
      slot.perByte += 4;
      slot.fixed += 2;
    }
    inserted.set(m[1], slot);
  }
  return { spec, argSet, argCount: argSet.size, commandBytes: spec.command.length * 3, inserted };
}

/**
 * The problem with the size of a task's command as run, or null. Measured exactly only
 * when a cheap upper bound (3 bytes per character) passes the cap: almost never.
 */
function commandSizeProblem(
  task: TaskSpec,
  template: TemplateInfo,
  label: () => string,
): string | null {
  let bound = template.commandBytes;
  for (const [name, slot] of template.inserted) {
    bound += slot.fixed + slot.perByte * 3 * (task.args[name]?.length ?? 0);
  }
  if (bound <= CAPS.commandBytes) return null;
  const command = renderCommand(template.spec.command, task.args);
  if (!exceedsBytes(command, CAPS.commandBytes)) return null;
  return `${label()}: command is ${Buffer.byteLength(command)} bytes with its args inserted, more than ${CAPS.commandBytes} (a command is one argument of sh -c)`;
}

/** The problem with one arg value's size, or null. */
function argValueProblem(label: string, name: string, value: string): string | null {
  return exceedsBytes(value, CAPS.argValueBytes)
    ? `${label}: arg "${name}" is ${Buffer.byteLength(value)} bytes, more than ${formatBytes(CAPS.argValueBytes)}`
    : null;
}

export function checkTemplate(t: TemplateSpec, problems: Problems): void {
  const nameProblem = checkName("template", t.name);
  if (nameProblem) problems.add(nameProblem);
  const label = `template ${JSON.stringify(t.name)}`;
  if (t.command.trim() === "") problems.add(`${label}: command is empty`);
  else if (exceedsBytes(t.command, CAPS.commandBytes)) {
    problems.add(
      `${label}: command is ${Buffer.byteLength(t.command)} bytes, more than ${CAPS.commandBytes} (a command is one argument of sh -c)`,
    );
  } else problems.addIf(textProblem(`${label}: command`, t.command));
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
  checkFallbackQueues(t.fallback_queues, label, problems);
  if (t.cluster !== undefined && t.cluster === "") problems.add(`${label}: cluster is empty`);
  else if (t.cluster !== undefined)
    problems.addIf(optionValueProblem(`${label}: cluster`, t.cluster));
  checkCount(t.max_attempts, 1, `${label}: max_attempts`, problems, LIMITS.attempts);
  checkCount(t.max_concurrently_running, 0, `${label}: max_concurrently_running`, problems);
  checkWhere(t, label, problems);
}

/** `working_dir` and `env` of a workflow, template or task, when given. */
export function checkWhere(
  level: { working_dir?: string | undefined; env?: Record<string, string> | undefined },
  label: string,
  problems: Problems,
): void {
  if (level.working_dir !== undefined) {
    const bad = workingDirProblem(level.working_dir);
    if (bad) problems.add(`${label}: ${bad}`);
  }
  if (level.env !== undefined) {
    const bad = envProblem(level.env);
    if (bad) problems.add(`${label}: ${bad}`);
  }
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
    const v = task.args[k];
    if (!template.argSet.has(k) || typeof v !== "string" || !isStorableText(v)) return false;
    if (v.length * 3 > CAPS.argValueBytes && exceedsBytes(v, CAPS.argValueBytes)) return false;
  }
  if (given !== template.argCount) return false;
  if (commandSizeProblem(task, template, () => "") !== null) return false;
  const { max_attempts, resources, attributes, resource_scales, fallback_queues } = task;
  if (!inRange(max_attempts, LIMITS.attempts)) return false;
  if (resources !== undefined && !resourcesAreValid(resources)) return false;
  if (task.cluster !== undefined && !OPTION_VALUE.test(task.cluster)) return false;
  if (
    resource_scales !== undefined ||
    fallback_queues !== undefined ||
    task.working_dir !== undefined ||
    task.env !== undefined
  ) {
    // Rare enough (settings of a task's own) to take the slow path that builds messages.
    const problems = new Problems();
    checkScales(resource_scales, "", problems);
    checkFallbackQueues(fallback_queues, "", problems);
    checkWhere(task, "", problems);
    if (!problems.empty) return false;
  }
  if (attributes !== undefined) {
    for (const k in attributes) {
      const v = attributes[k];
      if (typeof v !== "string" || !isStorableText(k) || !isStorableText(v)) return false;
    }
  }
  return true;
}

function resourcesAreValid(r: NormalizedResources): boolean {
  return (
    inRange(r.cores, LIMITS.cores) &&
    inRange(r.memory_bytes, LIMITS.bytes) &&
    inRange(r.runtime_seconds, LIMITS.int) &&
    (r.queue === undefined || OPTION_VALUE.test(r.queue)) &&
    (r.project === undefined || OPTION_VALUE.test(r.project))
  );
}

/**
 * The strings of a workflow and its tool that no other check looks at: free text, its
 * args and attributes (keys and values). Checked by the clients and again by bind-dag.
 */
export function checkWorkflowText(
  tool: { name: string; version: string },
  workflow: {
    name: string;
    args?: Record<string, unknown> | undefined;
    attributes?: Record<string, string> | undefined;
  },
  problems: Problems,
): void {
  problems.addIf(textProblem("tool version", tool.version));
  problems.addIf(textProblem("workflow name", workflow.name));
  for (const [field, map] of [
    ["args", workflow.args],
    ["attributes", workflow.attributes],
  ] as const) {
    for (const [k, v] of Object.entries(map ?? {})) {
      problems.addIf(textProblem(`workflow ${field} key ${JSON.stringify(k)}`, k));
      if (typeof v === "string") problems.addIf(textProblem(`workflow ${field} "${k}"`, v));
    }
  }
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
    } else {
      problems.addIf(argValueProblem(label, k, task.args[k]));
      problems.addIf(textProblem(`${label}: arg "${k}"`, task.args[k]));
    }
  }
  let complete = true;
  for (const a of template.argSet) {
    if (!Object.hasOwn(task.args, a)) {
      problems.add(`${label}: arg "${a}" is missing`);
      complete = false;
    }
  }
  if (complete) problems.addIf(commandSizeProblem(task, template, () => label));
  checkCount(task.max_attempts, 1, `${label}: max_attempts`, problems, LIMITS.attempts);
  checkResources(task.resources, label, problems);
  checkScales(task.resource_scales, label, problems);
  checkFallbackQueues(task.fallback_queues, label, problems);
  if (task.cluster === "") problems.add(`${label}: cluster is empty`);
  else if (task.cluster !== undefined) {
    problems.addIf(optionValueProblem(`${label}: cluster`, task.cluster));
  }
  if (task.attributes !== undefined) {
    for (const k in task.attributes) {
      if (typeof task.attributes[k] !== "string") {
        problems.add(`${label}: attribute "${k}" must be a string`);
      } else {
        problems.addIf(textProblem(`${label}: attributes key ${JSON.stringify(k)}`, k));
        problems.addIf(textProblem(`${label}: attribute "${k}"`, task.attributes[k]));
      }
    }
  }
  checkWhere(task, label, problems);
}

export function checkResources(
  r: NormalizedResources | undefined,
  label: string,
  problems: Problems,
): void {
  if (r === undefined) return;
  checkCount(r.cores, 1, `${label}: cores`, problems, LIMITS.cores);
  checkCount(r.memory_bytes, 1, `${label}: memory`, problems, LIMITS.bytes);
  checkCount(r.runtime_seconds, 1, `${label}: runtime`, problems);
  if (r.queue === "") problems.add(`${label}: queue is empty`);
  else if (r.queue !== undefined) problems.addIf(optionValueProblem(`${label}: queue`, r.queue));
  if (r.project !== undefined) problems.addIf(optionValueProblem(`${label}: project`, r.project));
}

/** The largest value of each scaled resource: memory in bytes, runtime in seconds. */
const SCALE_MAX = { memory: LIMITS.bytes, runtime: LIMITS.int } as const;

function checkScales(s: ResourceScales | undefined, label: string, problems: Problems): void {
  for (const key of ["memory", "runtime"] as const) {
    const v = s?.[key];
    if (v === undefined) continue;
    const what = `${label}: resource_scales ${key}`;
    if (typeof v === "number") {
      if (!(v > 0 && Number.isFinite(v))) problems.add(`${what} factor must be more than zero`);
    } else if (!Array.isArray(v)) {
      problems.add(`${what} must be a factor or a list of amounts`);
    } else if (v.length === 0) problems.add(`${what} list is empty`);
    else for (const x of v) checkCount(x, 1, what, problems, SCALE_MAX[key]);
  }
}

function checkFallbackQueues(
  queues: readonly string[] | undefined,
  label: string,
  problems: Problems,
): void {
  if (queues === undefined) return;
  if (!Array.isArray(queues)) {
    problems.add(`${label}: fallback_queues must be a list of queue names`);
    return;
  }
  for (const q of queues) {
    if (typeof q !== "string" || q === "") {
      problems.add(`${label}: fallback_queues holds an empty or non-text queue name`);
    } else problems.addIf(optionValueProblem(`${label}: fallback queue`, q));
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
  // Integers past 2^53 are rounded (not safe) and over every max: said so below.
  if (!Number.isInteger(value) || value < min) {
    problems.add(`${what} ${value} must be a whole number of at least ${min}`);
  } else if (value > max) problems.add(`${what} ${value} must be at most ${max}`);
}

function inRange(v: number | undefined, max: number): boolean {
  return v === undefined || (Number.isSafeInteger(v) && v >= 1 && v <= max);
}
