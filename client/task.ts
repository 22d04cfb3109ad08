/**
 * A task: one command of a template with its args. Its upstream tasks are other Task
 * objects, or `{template, match}` rules resolved over the workflow's tasks when the
 * Submission is built (the same rule as in spec files).
 */
import type { NormalizedResources, ResourceScales } from "../submission/submission.ts";
import type { TaskTemplate } from "./template.ts";

/**
 * Every task of `template` in the workflow whose args named in `match` equal this
 * task's; every task of the template when `match` is absent or empty.
 */
export interface UpstreamMatch {
  template: TaskTemplate;
  match?: string[] | undefined;
}

export type Upstream = Task | UpstreamMatch;

/** Task settings, already normalized (units parsed, values as strings). */
export interface TaskSettings {
  maxAttempts?: number | undefined;
  resources?: NormalizedResources | undefined;
  cluster?: string | undefined;
  attributes?: Record<string, string> | undefined;
  resourceScales?: ResourceScales | undefined;
  fallbackQueues?: string[] | undefined;
  workingDir?: string | undefined;
  env?: Record<string, string> | undefined;
}

export class Task {
  constructor(
    readonly template: TaskTemplate,
    readonly name: string,
    /** Arg values as strings, in the template's arg order. */
    readonly args: Readonly<Record<string, string>>,
    readonly settings: Readonly<TaskSettings>,
    /** Upstream tasks and rules, in the order they were added. */
    readonly upstream: Upstream[] = [],
  ) {}

  /** This task runs after `other` (or after the tasks the rule matches). */
  addUpstream(other: Upstream): this {
    if (other !== this) this.template.checkUpstream(other, this.name);
    this.upstream.push(other);
    return this;
  }

  /** `other` runs after this task. */
  addDownstream(other: Task): this {
    other.addUpstream(this);
    return this;
  }

  /** The upstream Task objects added directly (rules are resolved by the workflow). */
  get upstreamTasks(): Task[] {
    return this.upstream.filter((u): u is Task => u instanceof Task);
  }
}
