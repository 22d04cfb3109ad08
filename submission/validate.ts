import { optionValueProblem } from "../core/option-values.ts";
/**
 * validateSubmission: every rejection of SPEC.md §1 ("Rejected at submit") that can be
 * decided from the Submission (and, given one, the catalog of clusters and queues),
 * all reported at once in one SpecError. Linear in tasks + edges.
 */

import { LIMITS } from "../core/limits.ts";
import { CatalogChecker } from "./catalog-check.ts";
import {
  checkCount,
  checkResources,
  checkTask,
  checkTemplate,
  checkWhere,
  checkWorkflowText,
  type TemplateInfo,
  templateInfo,
} from "./check.ts";
import { FirstIndex, FNV_SEED, finish32, mix32 } from "./digest.ts";
import { Problems } from "./errors.ts";
import { checkName } from "./names.ts";
import type { Catalog } from "./resolve.ts";
import type { Submission, TaskSpec, TemplateSpec } from "./submission.ts";
import { cycleProblem, findCycle } from "./topo.ts";

export type { Catalog } from "./resolve.ts";

export interface ValidateOptions {
  /**
   * Skip the checks of each task when this Submission's tasks passed them before and
   * were not replaced since (the same tasks array and length, the same template
   * objects): submitWorkflow with a Submission just built by toSubmission or loaded from
   * a file, a second pass over a million tasks otherwise. A change made inside a task
   * object goes unnoticed here; bind-dag checks every task again before writing any.
   */
  reuseTaskChecks?: boolean;
}

/** The tasks of Submissions that passed validation, as they were then. */
const checked = new WeakMap<
  Submission,
  { tasks: readonly TaskSpec[]; length: number; templates: readonly TemplateSpec[] }
>();

function tasksChecked(sub: Submission): boolean {
  const seen = checked.get(sub);
  return (
    seen !== undefined &&
    seen.tasks === sub.tasks &&
    seen.length === sub.tasks.length &&
    seen.templates.length === sub.templates.length &&
    seen.templates.every((t, k) => t === sub.templates[k])
  );
}

/** Throws SpecError listing every problem. */
export function validateSubmission(
  sub: Submission,
  catalog?: Catalog,
  options: ValidateOptions = {},
): void {
  const problems = new Problems();
  const { tool, workflow } = sub;
  const toolProblem = checkName("tool", tool.name);
  if (toolProblem) problems.add(toolProblem);
  if (!tool.version) problems.add("tool version is empty");
  if (!workflow.name) problems.add("workflow name is empty");
  checkCount(workflow.max_concurrently_running, 0, "workflow max_concurrently_running", problems);
  checkCount(
    workflow.default_max_attempts,
    1,
    "workflow default_max_attempts",
    problems,
    LIMITS.attempts,
  );
  checkCount(workflow.timeout_seconds, 1, "workflow timeout_seconds", problems);
  checkResources(workflow.default_resources, "workflow default_resources", problems);
  problems.addIf(optionValueProblem("workflow default_cluster", workflow.default_cluster));
  checkWhere(workflow, "workflow", problems);
  checkWorkflowText(tool, workflow, problems);

  const catalogChecker = catalog && new CatalogChecker(workflow, catalog, problems);
  const templates = new Map<string, TemplateInfo>();
  for (const t of sub.templates) {
    if (templates.has(t.name)) {
      problems.add(`template ${JSON.stringify(t.name)} is defined more than once`);
      continue;
    }
    checkTemplate(t, problems);
    catalogChecker?.checkTemplate(t);
    templates.set(t.name, templateInfo(t));
  }

  if (options.reuseTaskChecks && tasksChecked(sub)) {
    problems.throwIfAny();
    return;
  }
  const tasks = sub.tasks;
  const n = tasks.length;
  // Tables of task indices rather than Maps of a million key strings (digest.ts).
  const identities = new FirstIndex(n, (a, b) => sameIdentity(tasks[a]!, tasks[b]!, templates));
  const names = new FirstIndex(n, (a, b) => tasks[a]!.name === tasks[b]!.name);
  // Per block of tasks: their hashes first, then the tables' slots for all of them (so
  // that the cache misses overlap, FirstIndex.prefetch), then the checks in order.
  const BLOCK = 1024;
  const identityHashes = new Int32Array(BLOCK);
  const nameHashes = new Int32Array(BLOCK);
  let upstreamOk = true;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    for (let i = start; i < end; i++) {
      const task = tasks[i] as TaskSpec;
      const template = templates.get(task.template);
      if (template !== undefined) {
        let h = mix32(FNV_SEED, task.template);
        const nodeArgs = template.spec.node_args;
        for (let k = 0; k < nodeArgs.length; k++) {
          const v = task.args[nodeArgs[k]!];
          h = mix32(h, typeof v === "string" ? v : String(v ?? "")); // not a string: checkTask says so
        }
        identityHashes[i - start] = finish32(h);
      }
      if (typeof task.name === "string")
        nameHashes[i - start] = finish32(mix32(FNV_SEED, task.name));
    }
    identities.prefetch(identityHashes, end - start);
    names.prefetch(nameHashes, end - start);
    for (let i = start; i < end; i++) {
      const task = tasks[i] as TaskSpec;
      const template = templates.get(task.template);
      checkTask(task, template, problems);
      let duplicate = false;
      if (template !== undefined) {
        const same = identities.addOrGet(i, identityHashes[i - start]!);
        if (same >= 0) {
          duplicate = true;
          const other = (sub.tasks[same] as TaskSpec).name;
          problems.add(
            other === task.name
              ? `${taskLabel(task)} is defined twice (tasks ${same} and ${i}: same template and node_args)`
              : `${taskLabel(task)}: same template and node_args as task ${JSON.stringify(other)} (duplicate task identity)`,
          );
        }
        catalogChecker?.checkTask(task, template.spec);
      }
      // A duplicate identity usually also duplicates the default name: report it once.
      const sameName =
        typeof task.name === "string" ? names.addOrGet(i, nameHashes[i - start]!) : -1;
      if (sameName >= 0 && !duplicate)
        problems.add(`${taskLabel(task)}: name is used by tasks ${sameName} and ${i}`);
      for (const u of task.upstream) {
        if (!Number.isInteger(u) || u < 0 || u >= n) {
          problems.add(`${taskLabel(task)}: upstream index ${u} is out of range (0..${n - 1})`);
          upstreamOk = false;
        }
      }
    }
  }
  if (upstreamOk) {
    const cycle = findCycle(sub);
    if (cycle) problems.add(cycleProblem(cycle));
  }
  problems.throwIfAny();
  checked.set(sub, { tasks, length: n, templates: [...sub.templates] });
}

/** Same template and node_args values (the task identity within a workflow). */
function sameIdentity(a: TaskSpec, b: TaskSpec, templates: Map<string, TemplateInfo>): boolean {
  if (a.template !== b.template) return false;
  const nodeArgs = templates.get(a.template)?.spec.node_args ?? [];
  for (const k of nodeArgs) if ((a.args[k] ?? "") !== (b.args[k] ?? "")) return false;
  return true;
}

function taskLabel(task: TaskSpec): string {
  return `task ${JSON.stringify(task.name)}`;
}
