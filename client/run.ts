import type { NatsConnection } from "@nats-io/nats-core";
import { connectBus } from "../bus/connect.ts";
import type { TaskCounts, WorkflowAnswer } from "../bus/queries.ts";
import { ownCredentials } from "./credentials.ts";
import { followWorkflow } from "./follow.ts";
import { Queries } from "./query.ts";
import { submitWorkflow } from "./submit.ts";
import { Workflow } from "./workflow.ts";

export interface RunOptions {
  /** a NATS URL or an open connection (default: DROVER_NATS_URL or nats://127.0.0.1:4222) */
  nats?: string | NatsConnection;
  /** stop scheduling new tasks after the first task fails for good */
  failFast?: boolean;
  /** the workflow is stopped (HALTED) when it runs longer than this */
  timeoutSeconds?: number;
  /** resume a FAILED or HALTED workflow with the same identity */
  resume?: boolean;
  /** with resume: kill and rerun tasks that are still running (cold resume) */
  resetRunning?: boolean;
  /** with resume: keep resources as of the last attempt, even after a memory or time kill */
  keepResources?: boolean;
  /** called with each fresh view while the workflow runs */
  onProgress?: (view: WorkflowAnswer) => void;
}

export interface RunResult {
  workflowId: number;
  status: string;
  /** "new", "resumed", or "existing" (already DONE: nothing ran) */
  outcome: "new" | "resumed" | "existing";
  /** resumed: tasks whose command changed with the new op args (see SubmitReply) */
  changedCommands: number[];
  total: number;
  counts: TaskCounts;
  doneTaskIds: number[];
  failedTaskIds: number[];
}

declare module "./workflow.ts" {
  interface Workflow {
    /**
     * Submits the workflow, follows it to its end and returns the outcome. The workflow
     * runs on the Drover stack, not in this process: if this process dies, it goes on.
     */
    run(options?: RunOptions): Promise<RunResult>;
  }
}

Workflow.prototype.run = async function run(this: Workflow, options: RunOptions = {}) {
  const submission = this.toSubmission();
  if (options.failFast !== undefined) submission.workflow.fail_fast = options.failFast;
  if (options.timeoutSeconds !== undefined)
    submission.workflow.timeout_seconds = options.timeoutSeconds;
  const own = typeof options.nats !== "object";
  const nc =
    typeof options.nats === "object"
      ? options.nats
      : await connectBus(
          options.nats ?? process.env.DROVER_NATS_URL ?? "nats://127.0.0.1:4222",
          "drover-client",
          { reconnect: true, credentials: process.env.DROVER_CREDENTIALS || ownCredentials() },
        );
  try {
    const bound = await submitWorkflow(nc, submission, {
      resume: options.resume ?? false,
      resetRunning: options.resetRunning ?? false,
      keepResources: options.keepResources ?? false,
    });
    const view = await followWorkflow(nc, bound.workflow_id, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const queries = new Queries(nc);
    return {
      workflowId: bound.workflow_id,
      status: view.status,
      outcome: bound.outcome,
      changedCommands: bound.changed_commands ?? [],
      total: view.total,
      counts: view.counts,
      doneTaskIds: await taskIds(queries, bound.workflow_id, "DONE"),
      failedTaskIds: await taskIds(queries, bound.workflow_id, "ERROR_FATAL"),
    };
  } finally {
    if (own) await nc.drain();
  }
};

async function taskIds(queries: Queries, workflowId: number, status: string): Promise<number[]> {
  const ids: number[] = [];
  for (let offset = 0; ; ) {
    const page = await queries.tasks({ workflow_id: workflowId, status, limit: 5000, offset });
    for (const t of page.tasks) ids.push(t.id);
    offset += page.tasks.length;
    if (page.tasks.length === 0 || offset >= page.total) return ids;
  }
}
