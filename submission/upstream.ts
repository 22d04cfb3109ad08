/**
 * Resolves the upstream references of expanded spec-file entries to task indices:
 * task names through one name map, `{template, match}` through TaskIndex's hash join,
 * `{template}` alone to every task of the template. A reference that resolves to no
 * task is a problem: a dependency that silently connects nothing is almost always a
 * typo in an arg value.
 */

import { meant } from "../core/suggest.ts";
import { sortedUnique } from "./build.ts";
import type { Problems } from "./errors.ts";
import type { ExpandedEntry } from "./expand.ts";
import type { UpstreamRef } from "./file-schema.ts";
import { TaskIndex } from "./match.ts";
import type { TaskSpec, TemplateSpec } from "./submission.ts";

interface Rule {
  template: string;
  match: string[];
  text: string;
}

export function resolveUpstream(
  entries: readonly ExpandedEntry[],
  tasks: TaskSpec[],
  templates: ReadonlyMap<string, TemplateSpec>,
  problems: Problems,
): void {
  const index = new TaskIndex(tasks);
  let names: Map<string, number> | undefined;
  const nameIndex = () => {
    if (names === undefined) {
      names = new Map();
      for (let i = 0; i < tasks.length; i++) {
        const n = (tasks[i] as TaskSpec).name;
        if (!names.has(n)) names.set(n, i);
      }
    }
    return names;
  };

  for (const entry of entries) {
    const refs = entry.file.upstream ?? [];
    if (refs.length === 0) continue;
    const before = problems.count;
    const fixed: number[] = [];
    const rules: Rule[] = [];
    for (const ref of refs) {
      if (typeof ref === "string") {
        const i = nameIndex().get(ref);
        if (i === undefined) problems.add(`${entry.label}: upstream "${ref}" does not exist`);
        else fixed.push(i);
        continue;
      }
      const rule = checkRule(ref, entry, templates, problems);
      if (rule === undefined) continue;
      if (rule.match.length > 0) {
        rules.push(rule);
        continue;
      }
      const all = index.ofTemplate(rule.template);
      if (all.length === 0) problems.add(`${entry.label}: upstream ${rule.text} matches no task`);
      for (const i of all) fixed.push(i);
    }
    if (problems.count > before) continue;
    const shared = sortedUnique(fixed);
    for (let t = entry.start; t < entry.end; t++) {
      const task = tasks[t] as TaskSpec;
      if (rules.length === 0) {
        task.upstream = shared;
        continue;
      }
      let list: number[] = fixed.length === 0 ? [] : shared.slice();
      for (const rule of rules) {
        const found = index.lookup(rule.template, rule.match, task.args);
        if (found.length === 0) {
          problems.add(`task ${JSON.stringify(task.name)}: upstream ${rule.text} matches no task`);
        } else if (rules.length === 1 && fixed.length === 0) {
          list = found as number[];
        } else {
          for (const i of found) list.push(i);
        }
      }
      task.upstream = sortedUnique(list);
    }
  }
}

function checkRule(
  ref: Exclude<UpstreamRef, string>,
  entry: ExpandedEntry,
  templates: ReadonlyMap<string, TemplateSpec>,
  problems: Problems,
): Rule | undefined {
  const match = ref.match ?? [];
  const text =
    match.length === 0
      ? `{template: ${JSON.stringify(ref.template)}}`
      : `{template: ${JSON.stringify(ref.template)}, match: [${match.join(", ")}]}`;
  const target = templates.get(ref.template);
  if (target === undefined) {
    problems.add(
      `${entry.label}: upstream ${text}: unknown template "${ref.template}"${meant(ref.template, templates.keys())}`,
    );
    return undefined;
  }
  const theirs = new Set([...target.node_args, ...target.task_args, ...target.op_args]);
  const own = new Set([
    ...entry.template.node_args,
    ...entry.template.task_args,
    ...entry.template.op_args,
  ]);
  let ok = true;
  for (const m of match) {
    if (!theirs.has(m)) {
      problems.add(`${entry.label}: upstream ${text}: template "${target.name}" has no arg "${m}"`);
      ok = false;
    }
    if (!own.has(m)) {
      problems.add(
        `${entry.label}: upstream ${text}: this task's template "${entry.template.name}" has no arg "${m}"`,
      );
      ok = false;
    }
  }
  return ok ? { template: ref.template, match, text } : undefined;
}
