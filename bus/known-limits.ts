import type { WorkflowLimits } from "./schemas.ts";

/**
 * The newest limits a bridge knows of each workflow, from its launch batches and limit
 * orders (whichever carries the higher version wins, whatever order they arrive in),
 * and how many more of a workflow's tasks may start.
 */
export class KnownLimits {
  readonly #byWorkflow = new Map<number, WorkflowLimits>();

  /** Takes `limits` unless older than those known; true when they changed anything. */
  learn(workflowId: number, limits: WorkflowLimits | undefined): boolean {
    if (!limits) return false;
    const known = this.#byWorkflow.get(workflowId);
    if (known && known.version > limits.version) return false;
    // The same version may still name a template more (one added by a resubmission).
    if (known && JSON.stringify(known) === JSON.stringify(limits)) return false;
    this.#byWorkflow.set(workflowId, limits);
    return true;
  }

  get(workflowId: number): WorkflowLimits | undefined {
    return this.#byWorkflow.get(workflowId);
  }

  /** Every workflow's limits known, to be kept across a restart. */
  entries(): [number, WorkflowLimits][] {
    return [...this.#byWorkflow];
  }

  /**
   * How many more tasks of a workflow's template may start while `running` of the
   * workflow and `runningOfTemplate` of that template run: the smaller room of the two
   * limits, Infinity when neither limits.
   */
  room(
    workflowId: number,
    template: string | undefined,
    running: number,
    runningOfTemplate: number,
  ): number {
    const limits = this.#byWorkflow.get(workflowId);
    if (!limits) return Number.POSITIVE_INFINITY;
    const ofTemplate = template === undefined ? null : (limits.templates[template] ?? null);
    return Math.max(
      0,
      Math.min(
        limits.workflow === null ? Number.POSITIVE_INFINITY : limits.workflow - running,
        ofTemplate === null ? Number.POSITIVE_INFINITY : ofTemplate - runningOfTemplate,
      ),
    );
  }
}
