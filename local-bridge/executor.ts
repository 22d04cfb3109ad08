import type { LaunchBatch, WorkflowLimits } from "../bus/schemas.ts";
import type { LiveSet } from "../worker/live.ts";
import type { LaunchedEntry, MiniLog, Reporter } from "../worker/reporter.ts";

/**
 * What the local bridge needs from each cluster it serves (`local`/`sequential` run
 * processes, `dummy` runs nothing). Accepting a batch is two steps so that nothing is
 * queued unless its `ti.launched` was published: `prepare` builds the announcement
 * without changing state, `commit` queues the instances.
 */
export interface Prepared {
  launched: LaunchedEntry[];
  commit(): void;
}

export interface ClusterExecutor {
  readonly cluster: string;
  prepare(batch: LaunchBatch): Prepared;
  /** Kills running instances and drops queued ones (reported `killed`); returns how many were ours. */
  kill(ids: readonly number[], reason: string): number;
  /** A workflow's new limits (a limit order): no more of its tasks start than they allow. */
  limit(workflowId: number, limits: WorkflowLimits): void;
  /** instances held: queued, running or sleeping */
  readonly liveCount: number;
  /** instances in a slot (running, or sleeping on dummy) */
  readonly runningCount: number;
  /** commands run at once; undefined when unbounded (dummy) */
  readonly slots: number | undefined;
  /** Stops everything held; each is reported `lost` ("bridge stopped") so it is retried. */
  stop(): Promise<void>;
}

export interface ExecutorDeps {
  reporter: Reporter;
  live: LiveSet;
  log: MiniLog;
  /** host name reported as the node of every instance */
  node: string;
  bridgePid: number;
}

export const BRIDGE_STOPPED = "bridge stopped";

export function distributorId(cluster: string, bridgePid: number, instanceId: number): string {
  return `${cluster}-${bridgePid}-${instanceId}`;
}

/**
 * Instances this bridge already accepted, with their announcement. A launch message that
 * is delivered again (its ack was lost) re-announces them but does not run them twice.
 * Bounded: the oldest are forgotten first.
 */
export class AcceptedSet {
  private readonly entries = new Map<number, LaunchedEntry>();

  constructor(private readonly max = 500_000) {}

  get(id: number): LaunchedEntry | undefined {
    return this.entries.get(id);
  }

  add(entry: LaunchedEntry): void {
    this.entries.set(entry.id, entry);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}
