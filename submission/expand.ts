/**
 * Spec file → Submission: templates and workflow defaults, foreach cross products,
 * then upstream references (upstream.ts). Problems that concern a whole task entry
 * (unknown template, missing args, …) are reported once for the entry, not once per
 * expanded task. Time is linear in the number of tasks.
 */

import { CAPS } from "../core/limits.ts";
import { meant } from "../core/suggest.ts";
import {
  forEachCombination,
  makeTask,
  makeTemplate,
  makeWorkflow,
  productSize,
  type TaskExtras,
} from "./build.ts";
import { checkTemplate } from "./check.ts";
import { Problems } from "./errors.ts";
import type { SpecFile, TaskFile } from "./file-schema.ts";
import { checkName, defaultTaskName } from "./names.ts";
import { normalizeResources, normalizeScales, scalarString, stringRecord } from "./normalize.ts";
import type { Submission, TaskSpec, TemplateSpec, WorkflowSpec } from "./submission.ts";
import { resolveUpstream } from "./upstream.ts";

/** Refuse to build more tasks than this (memory would run out long before binding). */
export const MAX_TASKS = CAPS.tasksPerWorkflow;

/** One task entry of the file and the range of tasks it expanded to. */
export interface ExpandedEntry {
  readonly file: TaskFile;
  readonly template: TemplateSpec;
  readonly label: string;
  readonly start: number;
  readonly end: number;
}

/** Throws SpecError listing every problem found. */
export function expandSpecFile(file: SpecFile): Submission {
  const problems = new Problems();
  const tool = {
    name: file.tool.name,
    version: file.tool.version === undefined ? "1" : String(file.tool.version),
  };
  const workflow: WorkflowSpec = problems.try(undefined, () => makeWorkflow(file.workflow)) ?? {
    name: file.workflow.name,
    default_cluster: "local",
    default_max_attempts: 3,
    fail_fast: false,
  };
  const templates: TemplateSpec[] = file.templates.map(
    (t) =>
      problems.try(undefined, () => makeTemplate(t)) ??
      makeTemplate({ ...t, resources: undefined, resource_scales: undefined }),
  );
  const toolProblem = checkName("tool", tool.name);
  if (toolProblem) problems.add(toolProblem);
  const byName = new Map<string, TemplateSpec>();
  for (const t of templates) {
    // Checked here too (validateSubmission checks again) to report them with the rest.
    if (byName.has(t.name))
      problems.add(`template ${JSON.stringify(t.name)} is defined more than once`);
    else checkTemplate(t, problems);
    if (!byName.has(t.name)) byName.set(t.name, t);
  }

  const tasks: TaskSpec[] = [];
  const entries: ExpandedEntry[] = [];
  file.tasks.forEach((entry, index) => {
    const expanded = expandEntry(entry, index, byName, tasks, problems);
    if (expanded) entries.push(expanded);
  });
  // Upstream names of tasks in entries that were skipped would be reported missing.
  if (problems.empty) resolveUpstream(entries, tasks, byName, problems);
  problems.throwIfAny();
  return { tool, workflow, templates, tasks };
}

function expandEntry(
  entry: TaskFile,
  index: number,
  templates: ReadonlyMap<string, TemplateSpec>,
  tasks: TaskSpec[],
  problems: Problems,
): ExpandedEntry | undefined {
  const template = templates.get(entry.template);
  if (template === undefined) {
    problems.add(
      `${entryLabel(entry, index)}: unknown template ${JSON.stringify(entry.template)}${meant(entry.template, templates.keys())}`,
    );
    return undefined;
  }
  const before = problems.count;
  const argOrder = [...template.node_args, ...template.task_args, ...template.op_args];
  const known = new Set(argOrder);
  const base = stringRecord(entry.args ?? {});
  const foreach = Object.entries(entry.foreach ?? {}).map(
    ([k, values]) => [k, values.map(scalarString)] as const,
  );
  const label = entryLabel(entry, index, template, base);
  const tname = JSON.stringify(template.name);
  for (const k of Object.keys(base)) {
    if (!known.has(k)) problems.add(`${label}: arg "${k}" is not an arg of template ${tname}`);
  }
  const looped = new Set<string>();
  for (const [k] of foreach) {
    looped.add(k);
    if (!known.has(k))
      problems.add(`${label}: foreach arg "${k}" is not an arg of template ${tname}`);
    if (Object.hasOwn(base, k)) problems.add(`${label}: arg "${k}" is in both args and foreach`);
  }
  for (const a of argOrder) {
    if (!Object.hasOwn(base, a) && !looped.has(a)) problems.add(`${label}: arg "${a}" is missing`);
  }
  if (entry.name !== undefined) {
    const bad = checkName("task", entry.name);
    if (bad) problems.add(bad);
  }
  const count = productSize(foreach);
  if (entry.name !== undefined && count > 1) {
    problems.add(`${label}: a name is given but foreach makes ${count} tasks`);
  }
  if (tasks.length + count > MAX_TASKS) {
    problems.add(`${label}: more than ${MAX_TASKS} tasks in the workflow`);
  }
  const extras: TaskExtras = { max_attempts: entry.max_attempts, cluster: entry.cluster };
  if (entry.resources !== undefined) {
    const resources = entry.resources;
    extras.resources = problems.try(label, () => normalizeResources(resources));
  }
  if (entry.attributes !== undefined) extras.attributes = stringRecord(entry.attributes);
  if (entry.resource_scales !== undefined) {
    const scales = entry.resource_scales;
    extras.resource_scales = problems.try(label, () => normalizeScales(scales));
  }
  if (entry.fallback_queues !== undefined) extras.fallback_queues = [...entry.fallback_queues];
  if (entry.working_dir !== undefined) extras.working_dir = entry.working_dir;
  if (entry.env !== undefined) extras.env = stringRecord(entry.env);
  if (problems.count > before) return undefined;

  const start = tasks.length;
  const { name, node_args } = template;
  forEachCombination(argOrder, base, foreach, (args) => {
    const taskName = entry.name ?? defaultTaskName(name, node_args, args);
    tasks.push(makeTask(name, taskName, args, [], extras));
  });
  return { file: entry, template, label, start, end: tasks.length };
}

/**
 * How problems name an entry: `task "prep_1"` when it makes one task whose name is
 * known, else `tasks[3] (template "prep")`.
 */
function entryLabel(
  entry: TaskFile,
  index: number,
  template?: TemplateSpec,
  args?: Record<string, string>,
): string {
  if (entry.name !== undefined) return `task ${JSON.stringify(entry.name)}`;
  if (template && args && entry.foreach === undefined) {
    if (template.node_args.every((a) => Object.hasOwn(args, a))) {
      return `task ${JSON.stringify(defaultTaskName(template.name, template.node_args, args))}`;
    }
  }
  return `tasks[${index}] (template ${JSON.stringify(entry.template)})`;
}
