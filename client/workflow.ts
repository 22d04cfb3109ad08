/**
 * A workflow: the tasks to run and the defaults they share. toSubmission() turns it
 * into the validated Submission that is uploaded; running it over NATS is added by
 * another module (the class is open for that: `Workflow.prototype.run`).
 */
import { resolve } from "node:path";
import { makeTask, makeWorkflow, sortedUnique } from "../submission/build.ts";
import { Problems } from "../submission/errors.ts";
import { TaskIndex } from "../submission/match.ts";
import type { Catalog } from "../submission/resolve.ts";
import type { Submission, TaskSpec, TemplateSpec, WorkflowSpec } from "../submission/submission.ts";
import { validateSubmission } from "../submission/validate.ts";
import { type WorkflowOptions, WorkflowOptionsSchema } from "./options.ts";
import { parseOptions } from "./parse.ts";
import { Task } from "./task.ts";
import type { TaskTemplate } from "./template.ts";
import type { Tool } from "./tool.ts";

export interface ToSubmissionOptions {
  /** When given, clusters, queues and resource limits are checked too. */
  catalog?: Catalog | undefined;
}

export class Workflow {
  private readonly spec: WorkflowSpec;
  private readonly tasks: Task[] = [];
  private readonly added = new Set<Task>();

  constructor(
    readonly tool: Tool,
    options: WorkflowOptions,
  ) {
    const o = parseOptions(WorkflowOptionsSchema, options, "workflow");
    this.spec = makeWorkflow({
      name: o.name,
      args: o.args,
      max_concurrently_running: o.maxConcurrentlyRunning,
      default_cluster: o.defaultCluster,
      default_resources: o.defaultResources,
      default_max_attempts: o.defaultMaxAttempts,
      fail_fast: o.failFast,
      attributes: o.attributes,
      timeout_seconds: o.timeoutSeconds,
      working_dir: o.workingDir === undefined ? undefined : resolve(o.workingDir),
      env: o.env,
    });
  }

  get name(): string {
    return this.spec.name;
  }

  /** Adds a task; its upstream tasks are added too when the Submission is built. */
  addTask(task: Task): this {
    if (!this.added.has(task)) {
      this.added.add(task);
      this.tasks.push(task);
    }
    return this;
  }

  addTasks(tasks: Iterable<Task>): this {
    for (const t of tasks) this.addTask(t);
    return this;
  }

  /** 0 pauses the workflow; undefined removes the limit. */
  setMaxConcurrentlyRunning(n: number | undefined): this {
    const o = parseOptions(
      WorkflowOptionsSchema.pick({ maxConcurrentlyRunning: true }),
      { maxConcurrentlyRunning: n },
      "workflow",
    );
    if (o.maxConcurrentlyRunning === undefined) delete this.spec.max_concurrently_running;
    else this.spec.max_concurrently_running = o.maxConcurrentlyRunning;
    return this;
  }

  /** The validated Submission. Throws SpecError listing every problem. */
  toSubmission(options: ToSubmissionOptions = {}): Submission {
    const problems = new Problems();
    const all = this.closure();
    // Positions of Task objects named as upstream: built on first use (a Map of a
    // million tasks costs a second, and workflows built from rules never need it).
    let index: Map<Task, number> | undefined;
    const positionOf = (task: Task): number => {
      if (index === undefined) {
        index = new Map();
        for (let i = 0; i < all.length; i++) index.set(all[i] as Task, i);
      }
      return index.get(task) as number;
    };

    const used = new Set<TaskTemplate>();
    let lastTemplate: TaskTemplate | undefined;
    for (const t of all) {
      if (t.template === lastTemplate) continue;
      lastTemplate = t.template;
      used.add(t.template);
    }
    for (const template of used) {
      if (template.tool !== this.tool) {
        problems.add(
          `template "${template.name}" belongs to tool "${template.tool.name}", not "${this.tool.name}"`,
        );
      }
    }
    const templates: TemplateSpec[] = this.tool.templateList
      .filter((t) => used.has(t))
      .map((t) => t.toSpec());
    const tasks: TaskSpec[] = new Array(all.length);
    for (let i = 0; i < all.length; i++) {
      const t = all[i] as Task;
      const s = t.settings;
      // A task's args are built for it (TaskTemplate) and never change: shared, not copied.
      tasks[i] = makeTask(t.template.name, t.name, t.args as Record<string, string>, [], {
        max_attempts: s.maxAttempts,
        resources: s.resources,
        cluster: s.cluster,
        attributes: s.attributes,
        resource_scales: s.resourceScales,
        fallback_queues: s.fallbackQueues,
        working_dir: s.workingDir,
        env: s.env,
      });
    }
    const matches = new TaskIndex(tasks);
    for (let i = 0; i < all.length; i++) {
      const t = all[i] as Task;
      if (t.upstream.length === 0) continue;
      let list: number[] = [];
      for (const u of t.upstream) {
        if (u instanceof Task) {
          list.push(positionOf(u));
          continue;
        }
        const found = matches.lookup(u.template.name, u.match ?? [], t.args);
        if (found.length === 0) {
          const m = u.match?.length ? `, match: [${u.match.join(", ")}]` : "";
          problems.add(
            `task ${JSON.stringify(t.name)}: upstream {template: "${u.template.name}"${m}} matches no task`,
          );
        }
        if (t.upstream.length === 1) list = found.slice();
        else for (const f of found) list.push(f);
      }
      (tasks[i] as TaskSpec).upstream = sortedUnique(list);
    }
    problems.throwIfAny();
    const sub: Submission = {
      tool: { name: this.tool.name, version: this.tool.version },
      workflow: structuredClone(this.spec),
      templates,
      tasks,
    };
    validateSubmission(sub, options.catalog);
    return sub;
  }

  /** The added tasks in order, then the upstream tasks reached from them that were not added. */
  private closure(): Task[] {
    const all = [...this.tasks];
    // Tasks reached but not added (usually none: no Set of a million tasks to copy).
    const reached = new Set<Task>();
    for (let i = 0; i < all.length; i++) {
      for (const u of (all[i] as Task).upstream) {
        if (u instanceof Task && !this.added.has(u) && !reached.has(u)) {
          reached.add(u);
          all.push(u);
        }
      }
    }
    return all;
  }
}
