import type { NatsConnection } from "@nats-io/nats-core";
import { workflowEvents } from "../bus/events.ts";
import type { WorkflowAnswer } from "../bus/queries.ts";
import { ENDED_WORKFLOW } from "../core/statuses.ts";
import { Queries } from "./query.ts";
import { ServiceUnavailable } from "./request.ts";

/** Workflow statuses after which nothing runs any more. */
export const FINAL_WORKFLOW_STATUSES: ReadonlySet<string> = new Set(ENDED_WORKFLOW);

export interface FollowOptions {
  /** called with each fresh view of the workflow */
  onProgress?: (view: WorkflowAnswer) => void;
  /** give up after this long (the workflow keeps running) */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class FollowTimeout extends Error {
  override name = "FollowTimeout";
}

/**
 * Follows a workflow until it ends: refreshes on its live events (`evt.*.<id>`),
 * and at least every second in case events were missed (they are best-effort).
 * Returns the final view. Following is only watching: the workflow runs without us.
 */
export async function followWorkflow(
  nc: NatsConnection,
  workflowId: number,
  options: FollowOptions = {},
): Promise<WorkflowAnswer> {
  const queries = new Queries(nc);
  const events = nc.subscribe(workflowEvents(workflowId));
  const state: { pending: boolean; wake: (() => void) | null } = { pending: false, wake: null };
  (async () => {
    for await (const _ of events) {
      state.pending = true;
      state.wake?.();
    }
  })().catch(() => {});
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  try {
    for (;;) {
      state.pending = false;
      const asked = performance.now();
      const view = await askPatiently(() => queries.workflow({ workflow_id: workflowId }));
      options.onProgress?.(view);
      if (FINAL_WORKFLOW_STATUSES.has(view.status)) return view;
      if (options.signal?.aborted) throw options.signal.reason;
      if (Date.now() > deadline) {
        throw new FollowTimeout(`workflow ${workflowId} is still ${view.status} after the timeout`);
      }
      // A view counts the workflow's tasks (a few hundred ms of Postgres at a million):
      // the next one waits at least four times as long as this one took, so following a
      // busy workflow — whose events never stop — keeps the database busy a fifth of the
      // time at most. Events come in bursts; one refresh per 200 ms is plenty for a display.
      const gap = Math.max(200, 4 * (performance.now() - asked));
      await new Promise<void>((resolve) => {
        const idle = setTimeout(resolve, Math.max(1000, gap));
        const soon = () => {
          state.wake = null;
          clearTimeout(idle);
          setTimeout(resolve, gap);
        };
        if (state.pending) soon();
        else state.wake = soon;
      });
      state.wake = null;
    }
  } finally {
    events.unsubscribe();
  }
}

/**
 * The query service may be restarting (a stack restart, a rolling deploy), or its
 * database (a Postgres restart, a failover): keep asking for up to two minutes before
 * giving up; the workflow runs on without us meanwhile.
 */
async function askPatiently<T>(ask: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + 120_000;
  for (;;) {
    try {
      return await ask();
    } catch (err) {
      const passing =
        err instanceof ServiceUnavailable ||
        /no Drover query service|timeout/i.test((err as Error).message);
      if (!passing || Date.now() > giveUpAt) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
