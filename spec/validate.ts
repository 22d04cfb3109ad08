/**
 * validateSubmission: every rejection of SPEC.md §1 ("Rejected at submit") that can be
 * decided from the Submission (and, given one, the catalog of clusters and queues),
 * all reported at once in one SpecError. Linear in tasks + edges.
 */
import { CatalogChecker } from "./catalog-check.ts";
import {
  checkCount,
  checkResources,
  checkTask,
  checkTemplate,
  type TemplateInfo,
  templateInfo,
} from "./check.ts";
import { Problems } from "./errors.ts";
import { checkName } from "./names.ts";
import type { Catalog } from "./resolve.ts";
import { identityKey, type Submission, type TaskSpec } from "./submission.ts";
import { cycleProblem, findCycle } from "./topo.ts";

export type { Catalog } from "./resolve.ts";

/** Throws SpecError listing every problem. */
export function validateSubmission(sub: Submission, catalog?: Catalog): void {
  const problems = new Problems();
  const { tool, workflow } = sub;
  const toolProblem = checkName("tool", tool.name);
  if (toolProblem) problems.add(toolProblem);
  if (!tool.version) problems.add("tool version is empty");
  if (!workflow.name) problems.add("workflow name is empty");
  checkCount(workflow.max_concurrently_running, 0, "workflow max_concurrently_running", problems);
  checkCount(workflow.default_max_attempts, 1, "workflow default_max_attempts", problems);
  checkCount(workflow.timeout_seconds, 1, "workflow timeout_seconds", problems);
  checkResources(workflow.default_resources, "workflow default_resources", problems);

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

  const n = sub.tasks.length;
  const identities = new Map<string, number>();
  const names = new Map<string, number>();
  let upstreamOk = true;
  for (let i = 0; i < n; i++) {
    const task = sub.tasks[i] as TaskSpec;
    const template = templates.get(task.template);
    checkTask(task, template, problems);
    let duplicate = false;
    if (template !== undefined) {
      const key = identityKey(task.template, template.spec.node_args, task.args);
      const same = identities.get(key);
      if (same === undefined) identities.set(key, i);
      else {
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
    const sameName = names.get(task.name);
    if (sameName === undefined) names.set(task.name, i);
    else if (!duplicate)
      problems.add(`${taskLabel(task)}: name is used by tasks ${sameName} and ${i}`);
    for (const u of task.upstream) {
      if (!Number.isInteger(u) || u < 0 || u >= n) {
        problems.add(`${taskLabel(task)}: upstream index ${u} is out of range (0..${n - 1})`);
        upstreamOk = false;
      }
    }
  }
  if (upstreamOk) {
    const cycle = findCycle(sub);
    if (cycle) problems.add(cycleProblem(cycle));
  }
  problems.throwIfAny();
}

function taskLabel(task: TaskSpec): string {
  return `task ${JSON.stringify(task.name)}`;
}
