import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { KnownLimits } from "../bus/known-limits.ts";
import type { LaunchBatch, LaunchInstance, WorkflowLimits } from "../bus/schemas.ts";
import { composeTaskEnv } from "../core/task-env.ts";
import type { MemoryCage, MemoryCgroups } from "../worker/cgroup.ts";
import type { Launcher } from "../worker/launch.ts";
import type { MemorySampler } from "../worker/proc.ts";
import type { LaunchedEntry } from "../worker/reporter.ts";
import { resultOf } from "../worker/results.ts";
import { type RunningCommand, runCommand } from "../worker/run-command.ts";
import {
  AcceptedSet,
  BRIDGE_STOPPED,
  type ClusterExecutor,
  distributorId,
  type ExecutorDeps,
  type Prepared,
} from "./executor.ts";

/**
 * `local` (N slots) and `sequential` (1 slot): commands run on this host, first come
 * first served, each with its batch's memory and runtime limits enforced. Output goes
 * to `logDir/<workflow_id>/<task name>.<instance id>.out|.err`.
 *
 * A workflow's limits (from its batches and limit orders) hold here too: a command
 * whose workflow or template runs as many as its limit allows waits, held apart from
 * the queue, until one of them ends or the limit is raised. Work handed out before a
 * limit was lowered therefore obeys it; running commands are not stopped.
 */

/** Commands of one workflow's template, held back by its limits, oldest first. */
interface HeldGroup {
  workflowId: number;
  template: string | undefined;
  jobs: Map<number, Job>;
}

function groupKey(workflowId: number, template: string | undefined): string {
  return template === undefined ? `${workflowId}` : `${workflowId}\u0000${template}`;
}

interface Job {
  instance: LaunchInstance;
  workflowId: number;
  template: string | undefined;
  memoryBytes: number;
  runtimeSeconds: number;
  heartbeatSeconds: number;
  /** the batch's environment (the task's own env is on its instance) */
  env: Record<string, string> | undefined;
  cwd: string;
  launched: LaunchedEntry;
}

export interface ProcessClusterOptions {
  cluster: string;
  slots: number;
  logDir: string;
  killGraceMs: number;
  sampler: MemorySampler;
  /** a memory cgroup per command when given; otherwise memory is sampled */
  cgroups?: MemoryCgroups;
  /** what starts commands (the spawner process); this process when not given */
  launcher?: Launcher;
}

/** A task name as a file name (names cannot hold `/`, but be safe). */
function fileSafe(name: string): string {
  return name.replace(/[/\0]/g, "_") || "task";
}

export class ProcessCluster implements ClusterExecutor {
  readonly cluster: string;
  /** FIFO: a Map iterates in insertion order and deletes in O(1) */
  private readonly queued = new Map<number, Job>();
  private readonly running = new Map<number, { job: Job; command: RunningCommand }>();
  private readonly finishing = new Set<Promise<void>>();
  private readonly accepted = new AcceptedSet();
  private readonly limits = new KnownLimits();
  /** held back by their limits, by workflow and template (oldest group first) */
  private readonly held = new Map<string, HeldGroup>();
  private heldCount = 0;
  /** commands running, by workflow (`<id>`) and by workflow and template */
  private readonly runningOf = new Map<string, number>();
  private stopping = false;

  constructor(
    private readonly options: ProcessClusterOptions,
    private readonly deps: ExecutorDeps,
  ) {
    this.cluster = options.cluster;
  }

  get liveCount(): number {
    return this.queued.size + this.heldCount + this.running.size;
  }

  get runningCount(): number {
    return this.running.size;
  }

  get slots(): number {
    return this.options.slots;
  }

  prepare(batch: LaunchBatch): Prepared {
    const dir = join(this.options.logDir, String(batch.workflow_id));
    const launched: LaunchedEntry[] = [];
    const jobs: Job[] = [];
    const inBatch = new Set<number>();
    for (const instance of batch.instances) {
      if (inBatch.has(instance.id)) continue;
      inBatch.add(instance.id);
      const known = this.accepted.get(instance.id);
      if (known) {
        launched.push(known);
        continue;
      }
      const base = join(dir, `${fileSafe(instance.name)}.${instance.id}`);
      const entry: LaunchedEntry = {
        id: instance.id,
        distributor_id: distributorId(this.cluster, this.deps.bridgePid, instance.id),
        stdout: `${base}.out`,
        stderr: `${base}.err`,
      };
      launched.push(entry);
      jobs.push({
        instance,
        workflowId: batch.workflow_id,
        template: batch.template,
        memoryBytes: batch.resources.memory_bytes,
        runtimeSeconds: batch.resources.runtime_seconds,
        heartbeatSeconds: batch.heartbeat_seconds,
        env: batch.env,
        cwd: instance.working_dir ?? batch.working_dir ?? homedir(),
        launched: entry,
      });
    }
    return {
      launched,
      commit: () => {
        this.limits.learn(batch.workflow_id, batch.limits);
        if (jobs.length === 0) return;
        try {
          mkdirSync(dir, { recursive: true, mode: 0o700 });
        } catch (err) {
          // Each command then fails on its output files, with this reason in its report.
          this.deps.log.error({ err, dir }, "cannot create the log directory");
        }
        for (const job of jobs) {
          this.accepted.add(job.launched);
          if (this.stopping) {
            this.report(job, { lost: true });
            continue;
          }
          this.queued.set(job.instance.id, job);
          this.deps.live.add(job.instance.id, job.heartbeatSeconds);
        }
        this.pump();
      },
    };
  }

  kill(ids: readonly number[], reason: string): number {
    let ours = 0;
    for (const id of ids) {
      const job = this.queued.get(id);
      if (job) {
        ours++;
        this.queued.delete(id);
        this.deps.live.remove(id);
        this.report(job, { killed: reason });
        continue;
      }
      const held = this.unhold(id);
      if (held) {
        ours++;
        this.deps.live.remove(id);
        this.report(held, { killed: reason });
        continue;
      }
      const run = this.running.get(id);
      if (run) {
        ours++;
        run.command.stop("killed", reason);
      }
    }
    return ours;
  }

  limit(workflowId: number, limits: WorkflowLimits): void {
    // A raised limit lets held commands start; a lowered one holds back the next ones.
    if (this.limits.learn(workflowId, limits)) this.pump();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const job of this.queued.values()) {
      this.deps.live.remove(job.instance.id);
      this.report(job, { lost: true });
    }
    this.queued.clear();
    for (const group of this.held.values()) {
      for (const job of group.jobs.values()) {
        this.deps.live.remove(job.instance.id);
        this.report(job, { lost: true });
      }
    }
    this.held.clear();
    this.heldCount = 0;
    for (const { command } of this.running.values()) command.stop("lost", BRIDGE_STOPPED);
    await Promise.all([...this.finishing]);
  }

  private pumpScheduled = false;

  /**
   * Starts queued commands in free slots, from a callback of its own. Called where a
   * command just ended: starting the next one right there (a spawn is ~15 ms of this
   * thread) kept the loop from ever reaching its timers while short commands ended one
   * after another — 1,000 `true` on 4 slots starved every timer (heartbeats, request
   * timeouts, the query service of `drover up`) for 10 s and more.
   */
  private pump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      while (!this.stopping && this.running.size < this.options.slots) {
        const next = this.nextToStart();
        if (!next) return;
        this.start(next);
      }
    });
  }

  /**
   * The oldest command its limits let start: first of those held back (their limits
   * may allow them now), then of the queue, holding back each that its limits do not.
   */
  private nextToStart(): Job | undefined {
    for (const [key, group] of this.held) {
      if (this.room(group.workflowId, group.template) === 0) continue;
      const first = group.jobs.values().next();
      if (first.done) continue;
      group.jobs.delete(first.value.instance.id);
      this.heldCount--;
      if (group.jobs.size === 0) this.held.delete(key);
      return first.value;
    }
    for (const job of this.queued.values()) {
      this.queued.delete(job.instance.id);
      if (this.room(job.workflowId, job.template) > 0) return job;
      this.hold(job);
    }
    return undefined;
  }

  private room(workflowId: number, template: string | undefined): number {
    return this.limits.room(
      workflowId,
      template,
      this.runningOf.get(groupKey(workflowId, undefined)) ?? 0,
      this.runningOf.get(groupKey(workflowId, template)) ?? 0,
    );
  }

  private hold(job: Job): void {
    const key = groupKey(job.workflowId, job.template);
    let group = this.held.get(key);
    if (!group) {
      group = { workflowId: job.workflowId, template: job.template, jobs: new Map() };
      this.held.set(key, group);
    }
    group.jobs.set(job.instance.id, job);
    this.heldCount++;
  }

  /** Takes a held command out (a kill order); undefined when none has that id. */
  private unhold(id: number): Job | undefined {
    for (const [key, group] of this.held) {
      const job = group.jobs.get(id);
      if (!job) continue;
      group.jobs.delete(id);
      this.heldCount--;
      if (group.jobs.size === 0) this.held.delete(key);
      return job;
    }
    return undefined;
  }

  /** Counts a command of a workflow and template as running (+1) or ended (-1). */
  private countRunning(job: Job, delta: 1 | -1): void {
    const keys = [groupKey(job.workflowId, undefined)];
    if (job.template !== undefined) keys.push(groupKey(job.workflowId, job.template));
    for (const key of keys) {
      const n = (this.runningOf.get(key) ?? 0) + delta;
      if (n > 0) this.runningOf.set(key, n);
      else this.runningOf.delete(key);
    }
  }

  private start(job: Job): void {
    const { instance } = job;
    const command = runCommand({
      command: instance.command,
      stdout: job.launched.stdout ?? "/dev/null",
      stderr: job.launched.stderr ?? "/dev/null",
      // Nothing of this bridge's own environment: it holds the service's settings.
      env: composeTaskEnv(job.env, instance.env, {
        workflowId: job.workflowId,
        taskId: instance.task_id,
        instanceId: instance.id,
        attempt: instance.attempt,
        cluster: this.cluster,
      }),
      cwd: job.cwd,
      memoryLimitBytes: job.memoryBytes,
      runtimeLimitSeconds: job.runtimeSeconds,
      killGraceMs: this.options.killGraceMs,
      sampler: this.options.sampler,
      ...(this.options.launcher ? { launcher: this.options.launcher } : {}),
      ...this.cageFor(job),
    });
    this.running.set(instance.id, { job, command });
    this.countRunning(job, 1);
    this.deps.reporter.reportRunning({
      id: instance.id,
      node: this.deps.node,
      distributor_id: job.launched.distributor_id,
    });
    const finished = command.done.then((outcome) => {
      this.running.delete(instance.id);
      this.countRunning(job, -1);
      this.deps.live.remove(instance.id);
      this.deps.reporter.reportResult(
        resultOf(instance.id, outcome, this.deps.node, {
          memoryBytes: job.memoryBytes,
          runtimeSeconds: job.runtimeSeconds,
        }),
      );
      this.finishing.delete(finished);
      this.pump();
    });
    this.finishing.add(finished);
  }

  /** The instance's memory cgroup; none (memory sampled instead) if it cannot be made. */
  private cageFor(job: Job): { cage?: MemoryCage } {
    const { cgroups } = this.options;
    if (!cgroups) return {};
    try {
      return { cage: cgroups.cage(`ti-${job.instance.id}`, job.memoryBytes) };
    } catch (err) {
      this.deps.log.warn(
        { err, instance: job.instance.id },
        "no memory cgroup for this command: its memory is sampled",
      );
      return {};
    }
  }

  /** Reports an instance that never started. */
  private report(job: Job, how: { killed: string } | { lost: true }): void {
    const id = job.instance.id;
    this.deps.reporter.reportResult({
      error:
        "killed" in how
          ? {
              id,
              kind: "killed",
              exit_code: null,
              message: `killed before it started: ${how.killed}`.slice(0, 2000),
            }
          : { id, kind: "lost", exit_code: null, message: BRIDGE_STOPPED },
    });
  }
}
