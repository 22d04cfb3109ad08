/**
 * A task template: a command with named args, and the settings its tasks share.
 * createTask / createTasks check args at once, so a mistake shows where it was made.
 */
import { resolve } from "node:path";
import { forEachCombination, makeTemplate } from "../submission/build.ts";
import { checkTemplate } from "../submission/check.ts";
import { Problems, SpecError } from "../submission/errors.ts";
import { checkName, defaultTaskName } from "../submission/names.ts";
import {
  normalizeResources,
  normalizeScales,
  type Scalar,
  scalarString,
  stringRecord,
} from "../submission/normalize.ts";
import type { TemplateSpec } from "../submission/submission.ts";
import {
  type TaskCommonOptions,
  TaskCommonOptionsSchema,
  type TemplateOptions,
  TemplateOptionsSchema,
} from "./options.ts";
import { labelled, parseOptions } from "./parse.ts";
import { Task, type TaskSettings, type Upstream } from "./task.ts";
import type { Tool } from "./tool.ts";

export interface TaskOptions extends TaskCommonOptions {
  /** Every arg the template names (node, task and op args), and no others. */
  args?: Record<string, Scalar>;
  /** Default: `{template}_{arg}-{value}_…` over the node args. */
  name?: string;
  upstream?: Upstream[];
}

export interface TasksOptions extends TaskCommonOptions {
  /** One task per combination of these values (cross product, first key slowest). */
  foreach: Record<string, Scalar[]>;
  /** The args that are the same for every task. */
  args?: Record<string, Scalar>;
  upstream?: Upstream[];
}

export class TaskTemplate {
  readonly name: string;
  private readonly spec: TemplateSpec;
  private readonly argOrder: string[];
  private readonly argSet: ReadonlySet<string>;
  private concurrency: number | undefined;

  constructor(
    readonly tool: Tool,
    options: TemplateOptions,
  ) {
    const o = parseOptions(
      TemplateOptionsSchema,
      options,
      `template ${JSON.stringify(options?.name)}`,
    );
    this.spec = makeTemplate({
      name: o.name,
      command: o.command,
      node_args: o.nodeArgs,
      task_args: o.taskArgs,
      op_args: o.opArgs,
      cluster: o.cluster,
      resources: o.resources,
      resource_scales: o.resourceScales,
      fallback_queues: o.fallbackQueues,
      max_attempts: o.maxAttempts,
      working_dir: o.workingDir === undefined ? undefined : resolve(o.workingDir),
      env: o.env,
    });
    const problems = new Problems();
    checkTemplate(this.spec, problems);
    problems.throwIfAny();
    this.name = o.name;
    this.concurrency = o.maxConcurrentlyRunning;
    this.argOrder = [...this.spec.node_args, ...this.spec.task_args, ...this.spec.op_args];
    this.argSet = new Set(this.argOrder);
  }

  get nodeArgs(): readonly string[] {
    return this.spec.node_args;
  }

  get maxConcurrentlyRunning(): number | undefined {
    return this.concurrency;
  }

  /** 0 pauses the template's tasks; undefined removes the limit. */
  set maxConcurrentlyRunning(n: number | undefined) {
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) {
      throw new SpecError(
        `template "${this.name}": max_concurrently_running ${n} must be a whole number ≥ 0`,
      );
    }
    this.concurrency = n;
  }

  setMaxConcurrentlyRunning(n: number | undefined): this {
    this.maxConcurrentlyRunning = n;
    return this;
  }

  /** The template as it goes into a Submission. */
  toSpec(): TemplateSpec {
    const spec = structuredClone(this.spec);
    if (this.concurrency !== undefined) spec.max_concurrently_running = this.concurrency;
    return spec;
  }

  createTask(options: TaskOptions = {}): Task {
    const { args = {}, name, upstream = [], ...common } = options;
    const values = labelled(this.taskLabel(name), () => stringRecord(args));
    const label = this.taskLabel(name ?? this.defaultName(values));
    this.checkArgs(label, Object.keys(values), []);
    const settings = this.settings(label, common);
    if (name !== undefined) {
      const bad = checkName("task", name);
      if (bad) throw new SpecError(bad);
    }
    const ordered: Record<string, string> = {};
    for (const a of this.argOrder) ordered[a] = values[a] as string;
    const taskName = name ?? defaultTaskName(this.name, this.spec.node_args, ordered);
    const task = new Task(this, taskName, ordered, settings);
    for (const u of upstream) task.addUpstream(u);
    return task;
  }

  createTasks(options: TasksOptions): Task[] {
    // Called from JavaScript (or with a cast) without foreach: say so, not a TypeError.
    const given = options as Partial<TasksOptions> | undefined;
    if (given === null || typeof given !== "object" || !isValueLists(given.foreach)) {
      throw new SpecError(
        `tasks of template "${this.name}": createTasks needs foreach, the values to loop over (e.g. { foreach: { location: [1, 2] } }); for one task use createTask({ args })`,
      );
    }
    const { foreach, args = {}, upstream = [], ...common } = options;
    const label = `tasks of template "${this.name}" (foreach ${Object.keys(foreach).join(", ")})`;
    const base = labelled(label, () => stringRecord(args));
    const lists = labelled(label, () =>
      Object.entries(foreach).map(([k, values]) => [k, values.map(scalarString)] as const),
    );
    const looped = lists.map(([k]) => k);
    const problems = new Problems();
    for (const k of looped) {
      if (Object.hasOwn(base, k)) problems.add(`${label}: arg "${k}" is in both args and foreach`);
    }
    problems.throwIfAny();
    this.checkArgs(label, Object.keys(base), looped);
    for (const u of upstream) this.checkUpstream(u, label);
    const settings = this.settings(label, common);
    const tasks: Task[] = [];
    forEachCombination(this.argOrder, base, lists, (a) => {
      // Each its own upstream array, of the right size: an array grown by push() from
      // empty holds 16 slots (a million of them were ~120 MB and a second of GC).
      const ups = upstream.length > 0 ? upstream.slice() : [];
      tasks.push(
        new Task(this, defaultTaskName(this.name, this.spec.node_args, a), a, settings, ups),
      );
    });
    return tasks;
  }

  /** Throws SpecError when a `{template, match}` rule names args either template lacks. */
  checkUpstream(u: Upstream, taskName: string): void {
    if (u instanceof Task) return;
    const problems = new Problems();
    const theirs = u.template.argSet;
    for (const m of u.match ?? []) {
      if (!theirs.has(m)) problems.add(`template "${u.template.name}" has no arg "${m}"`);
      if (!this.argSet.has(m))
        problems.add(`this task's template "${this.name}" has no arg "${m}"`);
    }
    if (!problems.empty) {
      const text = `{template: "${u.template.name}", match: [${(u.match ?? []).join(", ")}]}`;
      throw new SpecError(problems.list.map((p) => `${taskName}: upstream ${text}: ${p}`));
    }
  }

  private checkArgs(label: string, given: string[], looped: string[]): void {
    const problems = new Problems();
    const all = new Set([...given, ...looped]);
    for (const k of all) {
      if (!this.argSet.has(k))
        problems.add(`${label}: arg "${k}" is not an arg of template "${this.name}"`);
    }
    for (const a of this.argOrder) if (!all.has(a)) problems.add(`${label}: arg "${a}" is missing`);
    problems.throwIfAny();
  }

  private settings(label: string, common: TaskCommonOptions): TaskSettings {
    const settings: TaskSettings = {};
    if (Object.keys(common).length === 0) return settings;
    const o = parseOptions(TaskCommonOptionsSchema, common, label);
    if (o.maxAttempts !== undefined) settings.maxAttempts = o.maxAttempts;
    if (o.cluster !== undefined) settings.cluster = o.cluster;
    if (o.resources !== undefined) {
      const r = o.resources;
      settings.resources = labelled(label, () => normalizeResources(r));
    }
    if (o.attributes !== undefined) settings.attributes = stringRecord(o.attributes);
    if (o.resourceScales !== undefined) {
      const scales = o.resourceScales;
      settings.resourceScales = labelled(label, () => normalizeScales(scales));
    }
    if (o.fallbackQueues !== undefined) settings.fallbackQueues = [...o.fallbackQueues];
    if (o.workingDir !== undefined) settings.workingDir = resolve(o.workingDir);
    if (o.env !== undefined) settings.env = stringRecord(o.env);
    return settings;
  }

  private defaultName(values: Record<string, string>): string | undefined {
    return this.spec.node_args.every((a) => Object.hasOwn(values, a))
      ? defaultTaskName(this.name, this.spec.node_args, values)
      : undefined;
  }

  private taskLabel(name: string | undefined): string {
    return name === undefined ? `task of template "${this.name}"` : `task ${JSON.stringify(name)}`;
  }
}

/** `{ name: [values] }`: what foreach must be. */
function isValueLists(value: unknown): value is Record<string, unknown[]> {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => Array.isArray(v))
  );
}
