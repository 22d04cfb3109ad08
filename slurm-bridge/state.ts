import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { KnownLimits } from "../bus/known-limits.ts";
import { WorkflowLimits } from "../bus/schemas.ts";
import { privateDir } from "../core/private-files.ts";
import { parseManifest } from "../worker/manifest.ts";
import type { LaunchedEntry } from "../worker/reporter.ts";
import type { SlurmCommands } from "./commands.ts";
import { type Phase, slurmTime } from "./sacct.ts";
import { parseTag } from "./sbatch.ts";

/**
 * What the bridge tracks: each submitted part of a launch batch (its Slurm job id, tag
 * and manifest) and, through the manifest, which instance is at which array index. Kept
 * in a small JSON file under the state directory, written before a launch is acked, so
 * that a restarted bridge re-adopts its jobs and submits nothing twice. Per-instance data
 * is not stored here: the manifests hold it. Parts whose instances all ended are
 * remembered by key for a while so that an adoption scan does not take them up again.
 */

export interface TrackedInstance {
  id: number;
  /** array index within its part */
  index: number;
  stdout: string;
  stderr: string;
  phase: Exclude<Phase, "ended"> | "unknown";
  killOrdered: boolean;
  /** when sacct first showed the job without this element */
  missingSince?: number;
  /** when sacct first showed this element COMPLETED without its step's MaxRSS */
  completedWithoutRssSince?: number;
  part: TrackedPart;
}

export interface TrackedPart {
  key: string;
  batchId: number;
  part: number;
  jobId: string;
  tag: string;
  manifestPath: string;
  dir: string;
  workflowId: number;
  submittedAt: number;
  memoryBytes: number;
  runtimeSeconds: number;
  heartbeatSeconds: number;
  /** live instances by array index */
  live: Map<number, TrackedInstance>;
  /** every instance of the part, as announced in ti.launched */
  launched: LaunchedEntry[];
  /** the batch's template (its limit may hold the array back) */
  template?: string | undefined;
  /** the throttle (0: none) and hold this bridge last set for the workflow's limits */
  limited?: ArrayLimit | undefined;
}

export interface ArrayLimit {
  throttle: number;
  held: boolean;
}

const StateFile = z.object({
  v: z.literal(1),
  parts: z.array(
    z.object({
      batch_id: z.number().int(),
      part: z.number().int(),
      job_id: z.string(),
      tag: z.string(),
      manifest: z.string(),
      submitted_at: z.number(),
      template: z.string().optional(),
      limited: z.object({ throttle: z.number().int(), held: z.boolean() }).optional(),
    }),
  ),
  /** workflow id → its limits as last known (slurm-bridge/throttle.ts) */
  limits: z.record(z.string(), WorkflowLimits).optional(),
  killed: z.array(z.number().int()),
  /** part key → when its last instance ended (ms) */
  finished: z.record(z.string(), z.number()),
});
type StateFile = z.infer<typeof StateFile>;

export const partKey = (batchId: number, part: number) => `${batchId}-${part}`;

export interface AdoptSpec {
  batchId: number;
  part: number;
  jobId: string;
  tag: string;
  manifestPath: string;
  submittedAt: number;
  template?: string | undefined;
  limited?: ArrayLimit | undefined;
}

export class BridgeState {
  readonly file: string;
  private readonly parts = new Map<string, TrackedPart>();
  private readonly byId = new Map<number, TrackedInstance>();
  private readonly killed = new Set<number>();
  private finished = new Map<string, number>();
  /** the limits of the workflows whose arrays this bridge holds back */
  readonly limits = new KnownLimits();
  private dirty = false;

  constructor(stateDir: string) {
    privateDir(stateDir);
    this.file = join(stateDir, "state.json");
  }

  /** Reads the state file (if any) and each part's manifest; returns the parts re-adopted. */
  load(onProblem: (problem: string) => void): TrackedPart[] {
    let raw: StateFile;
    try {
      const parsed = StateFile.safeParse(JSON.parse(readFileSync(this.file, "utf8")));
      if (!parsed.success) {
        onProblem(`state file ${this.file} is not valid: ${parsed.error.message}`);
        return [];
      }
      raw = parsed.data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        onProblem(`state file ${this.file} cannot be read: ${(err as Error).message}`);
      }
      return [];
    }
    for (const id of raw.killed) this.killed.add(id);
    this.finished = new Map(Object.entries(raw.finished));
    for (const [id, limits] of Object.entries(raw.limits ?? {}))
      this.limits.learn(Number(id), limits);
    const adopted: TrackedPart[] = [];
    for (const p of raw.parts) {
      try {
        adopted.push(
          this.adopt(
            {
              batchId: p.batch_id,
              part: p.part,
              jobId: p.job_id,
              tag: p.tag,
              manifestPath: p.manifest,
              submittedAt: p.submitted_at,
              template: p.template,
              limited: p.limited,
            },
            false,
          ),
        );
      } catch (err) {
        onProblem(`job ${p.job_id} (${p.tag}) not re-adopted: ${(err as Error).message}`);
      }
    }
    return adopted;
  }

  /**
   * Tracks a submitted (or found) part from its manifest; every instance counts as live
   * until sacct says otherwise. Persisted at once unless `persist` is false.
   */
  adopt(spec: AdoptSpec, persist = true): TrackedPart {
    const key = partKey(spec.batchId, spec.part);
    const existing = this.parts.get(key);
    if (existing) return existing;
    const manifest = parseManifest(readFileSync(spec.manifestPath, "utf8"), spec.manifestPath);
    const first = manifest.instances[0]!;
    const part: TrackedPart = {
      key,
      batchId: spec.batchId,
      part: spec.part,
      jobId: spec.jobId,
      tag: spec.tag,
      manifestPath: spec.manifestPath,
      dir: dirname(spec.manifestPath),
      workflowId: manifest.workflow_id,
      submittedAt: spec.submittedAt,
      memoryBytes: first.memory_bytes ?? 0,
      runtimeSeconds: first.runtime_seconds ?? 0,
      heartbeatSeconds: manifest.heartbeat_seconds,
      live: new Map(),
      launched: [],
      template: spec.template,
      limited: spec.limited,
    };
    for (const i of manifest.instances) {
      part.launched.push({
        id: i.id,
        distributor_id: `${spec.jobId}_${i.step}`,
        stdout: i.stdout,
        stderr: i.stderr,
      });
      const tracked: TrackedInstance = {
        id: i.id,
        index: i.step,
        stdout: i.stdout,
        stderr: i.stderr,
        phase: "unknown",
        killOrdered: this.killed.has(i.id),
        part,
      };
      part.live.set(i.step, tracked);
      this.byId.set(i.id, tracked);
    }
    this.parts.set(key, part);
    this.finished.delete(key);
    this.dirty = true;
    if (persist) this.persist();
    return part;
  }

  part(batchId: number, part: number): TrackedPart | undefined {
    return this.parts.get(partKey(batchId, part));
  }

  /** A part that ended (all its instances) recently enough to be remembered. */
  hasFinished(batchId: number, part: number): boolean {
    return this.finished.has(partKey(batchId, part));
  }

  instance(id: number): TrackedInstance | undefined {
    return this.byId.get(id);
  }

  liveParts(): TrackedPart[] {
    return [...this.parts.values()];
  }

  get liveCount(): number {
    return this.byId.size;
  }

  /** The instance ended (reported): no longer tracked; its part ends with its last one. */
  end(inst: TrackedInstance, now = Date.now()): void {
    const part = inst.part;
    if (part.live.get(inst.index) !== inst) return;
    part.live.delete(inst.index);
    this.byId.delete(inst.id);
    this.killed.delete(inst.id);
    if (part.live.size === 0) {
      this.parts.delete(part.key);
      this.finished.set(part.key, now);
    }
    this.dirty = true;
  }

  /** Takes a workflow's limits when newer than those known; true when they changed. */
  learnLimits(workflowId: number, limits: WorkflowLimits | undefined): boolean {
    if (!this.limits.learn(workflowId, limits)) return false;
    this.dirty = true;
    return true;
  }

  /** Records what was set on a part's array for its workflow's limits. */
  setLimited(part: TrackedPart, limited: ArrayLimit): void {
    part.limited = limited;
    this.dirty = true;
  }

  markKilled(inst: TrackedInstance): void {
    if (inst.killOrdered) return;
    inst.killOrdered = true;
    this.killed.add(inst.id);
    this.dirty = true;
  }

  /** Forgets finished parts older than `maxAgeMs`. */
  prune(maxAgeMs: number, now = Date.now()): void {
    for (const [key, at] of this.finished) {
      if (now - at > maxAgeMs) {
        this.finished.delete(key);
        this.dirty = true;
      }
    }
  }

  /** The limits of workflows that still have arrays here: the others need not be kept. */
  private liveLimits(): [number, WorkflowLimits][] {
    const live = new Set([...this.parts.values()].map((p) => p.workflowId));
    return this.limits.entries().filter(([id]) => live.has(id));
  }

  /** Writes the file if anything changed (atomically: temp file, then rename). */
  persist(): void {
    if (!this.dirty) return;
    const data: StateFile = {
      v: 1,
      parts: [...this.parts.values()].map((p) => ({
        batch_id: p.batchId,
        part: p.part,
        job_id: p.jobId,
        tag: p.tag,
        manifest: p.manifestPath,
        submitted_at: p.submittedAt,
        ...(p.template !== undefined ? { template: p.template } : {}),
        ...(p.limited ? { limited: p.limited } : {}),
      })),
      killed: [...this.killed],
      finished: Object.fromEntries(this.finished),
      limits: Object.fromEntries(this.liveLimits()),
    };
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}

export interface TaggedJob {
  jobId: string;
  tag: string;
  batchId: number;
  part: number;
  submittedAt: number;
}

/**
 * Every job of this bridge's tag prefix that sacct knows since `sinceMs` (one call, for
 * re-adoption at start-up). When two jobs carry one tag (a batch submitted twice), the
 * first is kept and the others are returned in `duplicates`.
 */
export async function scanTaggedJobs(
  cmds: SlurmCommands,
  prefix: string,
  sinceMs: number,
  user?: string,
): Promise<{ jobs: TaggedJob[]; duplicates: TaggedJob[] }> {
  const out = await cmds.ok("sacct", [
    "--parsable2",
    "--noheader",
    "-X",
    ...(user ? [`--user=${user}`] : []),
    `--starttime=${slurmTime(sinceMs)}`,
    "--format=JobID,JobName,Submit",
  ]);
  const byJob = new Map<string, TaggedJob>();
  for (const line of out.split("\n")) {
    const [jobIdField = "", name = "", submit = ""] = line.split("|");
    const jobId = /^(\d+)/.exec(jobIdField.trim())?.[1];
    const tag = parseTag(prefix, name.trim());
    if (!jobId || !tag || byJob.has(jobId)) continue;
    const at = Date.parse(submit.trim());
    byJob.set(jobId, {
      jobId,
      tag: name.trim(),
      ...tag,
      submittedAt: Number.isFinite(at) ? at : sinceMs,
    });
  }
  const byTag = new Map<string, TaggedJob>();
  const duplicates: TaggedJob[] = [];
  for (const job of [...byJob.values()].sort((a, b) => Number(a.jobId) - Number(b.jobId))) {
    if (byTag.has(job.tag)) duplicates.push(job);
    else byTag.set(job.tag, job);
  }
  return { jobs: [...byTag.values()], duplicates };
}
