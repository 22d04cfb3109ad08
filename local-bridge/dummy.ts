import type { LaunchBatch } from "../bus/schemas.ts";
import type { LaunchedEntry, RunningEntry } from "../worker/reporter.ts";
import type { ErrorEntry, ResultEntry } from "../worker/results.ts";
import {
  AcceptedSet,
  BRIDGE_STOPPED,
  type ClusterExecutor,
  distributorId,
  type ExecutorDeps,
  type Prepared,
} from "./executor.ts";

/**
 * The `dummy` cluster runs nothing: each instance succeeds unless its command holds one
 * of the words of SPEC.md §1 (`@dummy:fail`, `@dummy:oom`, `@dummy:timeout`,
 * `@dummy:sleep=SECONDS`, `@dummy:fail-first=N`). It serves benchmarks, so a batch costs
 * a few messages (one ti.launched, one ti.running, one ti.done per batch, within the
 * reporter's caps) and no timer per instance: sleepers of a batch share one timer per
 * distinct duration.
 */

export type DummyOutcome =
  | { kind: "done" }
  | { kind: ErrorEntry["kind"]; exitCode: number | null; message: string };

export interface DummyPlan {
  sleepSeconds: number;
  outcome: DummyOutcome;
}

const SUCCESS: DummyPlan = { sleepSeconds: 0, outcome: { kind: "done" } };

export function planDummy(
  command: string,
  attempt: number,
  memoryBytes = 0,
  runtimeSeconds = 0,
): DummyPlan {
  if (!command.includes("@dummy:")) return SUCCESS;
  const sleep = /@dummy:sleep=(\d+(?:\.\d+)?)/.exec(command);
  const sleepSeconds = sleep ? Number(sleep[1]) : 0;
  const failFirst = /@dummy:fail-first=(\d+)/.exec(command);
  let outcome: DummyOutcome = { kind: "done" };
  if (/@dummy:oom\b/.test(command)) {
    outcome = {
      kind: "memory",
      exitCode: null,
      message: `exceeded its memory limit of ${memoryBytes} bytes (@dummy:oom); killed`,
    };
  } else if (/@dummy:timeout\b/.test(command)) {
    outcome = {
      kind: "runtime",
      exitCode: null,
      message: `exceeded its runtime limit of ${runtimeSeconds} s (@dummy:timeout); killed`,
    };
  } else if (/@dummy:fail(?!-first)\b/.test(command)) {
    outcome = { kind: "error", exitCode: 1, message: "exited with code 1 (@dummy:fail)" };
  } else if (failFirst && attempt <= Number(failFirst[1])) {
    outcome = {
      kind: "error",
      exitCode: 1,
      message: `exited with code 1 (@dummy:fail-first=${failFirst[1]}, attempt ${attempt})`,
    };
  }
  return { sleepSeconds, outcome };
}

interface Sleeper {
  id: number;
  outcome: DummyOutcome;
  sleepSeconds: number;
}

export class DummyCluster implements ClusterExecutor {
  readonly cluster: string;
  private readonly sleeping = new Map<number, Sleeper>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly accepted = new AcceptedSet();
  private stopping = false;

  constructor(
    cluster: string,
    private readonly deps: ExecutorDeps,
  ) {
    this.cluster = cluster;
  }

  get liveCount(): number {
    return this.sleeping.size;
  }

  get runningCount(): number {
    return this.sleeping.size;
  }

  readonly slots = undefined;

  prepare(batch: LaunchBatch): Prepared {
    const launched: LaunchedEntry[] = [];
    const fresh: LaunchedEntry[] = [];
    const instances: LaunchBatch["instances"] = [];
    const inBatch = new Set<number>();
    for (const instance of batch.instances) {
      if (inBatch.has(instance.id)) continue;
      inBatch.add(instance.id);
      const known = this.accepted.get(instance.id);
      if (known) {
        launched.push(known);
        continue;
      }
      const entry = {
        id: instance.id,
        distributor_id: distributorId(this.cluster, this.deps.bridgePid, instance.id),
      };
      launched.push(entry);
      fresh.push(entry);
      instances.push(instance);
    }
    return {
      launched,
      commit: () => {
        const { reporter, node } = this.deps;
        const bySleep = new Map<number, Sleeper[]>();
        for (let i = 0; i < instances.length; i++) {
          const instance = instances[i]!;
          const entry = fresh[i]!;
          this.accepted.add(entry);
          if (this.stopping) {
            reporter.reportResult(lost(instance.id));
            continue;
          }
          const running: RunningEntry = {
            id: instance.id,
            node,
            distributor_id: entry.distributor_id,
          };
          reporter.reportRunning(running);
          const plan = planDummy(
            instance.command,
            instance.attempt,
            batch.resources.memory_bytes,
            batch.resources.runtime_seconds,
          );
          if (plan.sleepSeconds <= 0) {
            reporter.reportResult(this.result(instance.id, plan.outcome, 0));
            continue;
          }
          const sleeper = {
            id: instance.id,
            outcome: plan.outcome,
            sleepSeconds: plan.sleepSeconds,
          };
          this.sleeping.set(instance.id, sleeper);
          this.deps.live.add(instance.id, batch.heartbeat_seconds);
          const group = bySleep.get(plan.sleepSeconds);
          if (group) group.push(sleeper);
          else bySleep.set(plan.sleepSeconds, [sleeper]);
        }
        for (const [seconds, sleepers] of bySleep) this.wake(seconds, sleepers);
      },
    };
  }

  /**
   * Nothing is held back: dummy runs no command (it measures the engine), so a lowered
   * limit only gates what launch hands out next.
   */
  limit(): void {}

  kill(ids: readonly number[], reason: string): number {
    let ours = 0;
    for (const id of ids) {
      if (!this.sleeping.delete(id)) continue;
      ours++;
      this.deps.live.remove(id);
      this.deps.reporter.reportResult({
        error: { id, kind: "killed", exit_code: null, message: `killed: ${reason}`.slice(0, 2000) },
      });
    }
    return ours;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const id of this.sleeping.keys()) {
      this.deps.live.remove(id);
      this.deps.reporter.reportResult(lost(id));
    }
    this.sleeping.clear();
  }

  private wake(seconds: number, sleepers: Sleeper[]): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      for (const s of sleepers) {
        // killed meanwhile: already reported
        if (this.sleeping.get(s.id) !== s) continue;
        this.sleeping.delete(s.id);
        this.deps.live.remove(s.id);
        this.deps.reporter.reportResult(this.result(s.id, s.outcome, seconds));
      }
    }, seconds * 1000);
    this.timers.add(timer);
  }

  private result(id: number, outcome: DummyOutcome, runtime: number): ResultEntry {
    const usage = { runtime_used: runtime, memory_used: 0, node: this.deps.node };
    if (outcome.kind === "done") return { done: { id, exit_code: 0, ...usage } };
    return {
      error: {
        id,
        kind: outcome.kind,
        exit_code: outcome.exitCode,
        message: outcome.message,
        ...usage,
      },
    };
  }
}

function lost(id: number): ResultEntry {
  return { error: { id, kind: "lost", exit_code: null, message: BRIDGE_STOPPED } };
}
