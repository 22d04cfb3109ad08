import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LaunchBatch, LaunchInstance } from "../bus/schemas.ts";
import { optionValueProblem } from "../core/option-values.ts";
import type { Manifest } from "../worker/manifest.ts";
import { CommandFailed, type SlurmCommands } from "./commands.ts";
import { sleep } from "./core.ts";
import { compactIndices, slurmTime } from "./sacct.ts";

/**
 * Turning a launch batch into Slurm jobs: ONE `sbatch --parsable --array=…` per batch
 * (one per part when the batch has more elements than the cluster's MaxArraySize allows),
 * each element running the worker wrapper on the part's manifest. Submission failures are
 * retried with capped, jittered backoff; a batch whose tag is already in Slurm is adopted
 * instead of being submitted again.
 */

/** Reads MaxArraySize from `scontrol show config` (Slurm's default is 1001). */
export async function readMaxArraySize(cmds: SlurmCommands): Promise<number> {
  const out = await cmds.ok("scontrol", ["show", "config"]);
  const m = /^\s*MaxArraySize\s*=\s*(\d+)/m.exec(out);
  return m ? Number(m[1]) : 1001;
}

export interface Part {
  /** 0, 1, …: the part of the batch */
  part: number;
  /** array index = step − offset, always < MaxArraySize */
  offset: number;
  instances: LaunchInstance[];
}

/** Splits a batch's instances so that every array index is below maxArraySize. */
export function splitParts(instances: readonly LaunchInstance[], maxArraySize: number): Part[] {
  const byPart = new Map<number, LaunchInstance[]>();
  for (const i of instances) {
    const part = Math.floor(i.step / maxArraySize);
    const list = byPart.get(part);
    if (list) list.push(i);
    else byPart.set(part, [i]);
  }
  return [...byPart.entries()]
    .sort(([a], [b]) => a - b)
    .map(([part, list], k) => ({ part: k, offset: part * maxArraySize, instances: list }));
}

/**
 * The job name that finds a part again: `<prefix>-<label>-b<batch id>-<part>`, e.g.
 * `drv1f02f7d3-w12-prep-b639-0` (workflow 12, template prep): readable in squeue, and
 * unique per batch and installation (the prefix). Without a label (a launch message of
 * an older version) it is `<prefix>-b<batch id>-<part>`, as jobs submitted before were
 * named: a delivered-again message finds its job under the name it was given.
 */
export function jobTag(prefix: string, batchId: number, part: number, label?: string): string {
  return label ? `${prefix}-${label}-b${batchId}-${part}` : `${prefix}-b${batchId}-${part}`;
}

/** What a batch's job names say besides its id: its workflow and template. */
export function batchLabel(
  batch: Pick<LaunchBatch, "workflow_id" | "template">,
): string | undefined {
  if (batch.template === undefined) return undefined;
  // Job names go into the script and into `squeue --name=a,b`: letters, digits, _ . + -
  // only (no commas), and short enough to read.
  const template = batch.template.replace(/[^A-Za-z0-9_.+-]/g, "_").slice(0, 40);
  return `w${batch.workflow_id}-${template}`;
}

/** The tag of a batch's part. */
export function batchTag(prefix: string, batch: LaunchBatch, part: number): string {
  return jobTag(prefix, batch.batch_id, part, batchLabel(batch));
}

/**
 * Parses a tag back, with or without a label (jobs of both forms are adopted after a
 * restart); undefined when it is not one of this prefix.
 */
export function parseTag(
  prefix: string,
  name: string,
): { batchId: number; part: number } | undefined {
  if (!name.startsWith(`${prefix}-`)) return undefined;
  const m = /^(?:[A-Za-z0-9_.+-]+-)?b(\d+)-(\d+)$/.exec(name.slice(prefix.length + 1));
  return m ? { batchId: Number(m[1]), part: Number(m[2]) } : undefined;
}

/** A task name as a file name (names cannot hold `/`, but be safe). */
export function fileSafe(name: string): string {
  return name.replace(/[/\0]/g, "_") || "task";
}

export interface PartFiles {
  dir: string;
  manifest: string;
  script: string;
  /** Slurm's own output of an element (the worker's diagnostics, slurmstepd's messages) */
  slurmOutput(jobId: string, index: number): string;
}

/** A batch's job files: found again from its tag alone (a restarted bridge adopting it). */
export function partFiles(jobsDir: string, batchId: number, part: number): PartFiles {
  const dir = join(jobsDir, `batch-${batchId}`);
  return {
    dir,
    manifest: join(dir, `part-${part}.json`),
    script: join(dir, `part-${part}.sh`),
    slurmOutput: (jobId, index) => join(dir, `slurm-${jobId}_${index}.out`),
  };
}

/** Per-instance output files, as the local bridge names them. */
export function instanceLogs(logDir: string, workflowId: number, i: LaunchInstance) {
  const base = join(logDir, String(workflowId), `${fileSafe(i.name)}.${i.id}`);
  return { stdout: `${base}.out`, stderr: `${base}.err` };
}

/** Who the workers of a bridge report as, and where. */
export interface WorkerIdentity {
  natsUrl: string;
  /** the bridge's person: their instances, their token */
  owner: string;
  /** their credentials file, readable by them (the job runs as them) */
  credentials?: string | undefined;
}

export function buildManifest(
  batch: LaunchBatch,
  part: Part,
  o: WorkerIdentity & { logDir: string },
): Manifest {
  const logDir = o.logDir;
  return {
    nats_url: o.natsUrl,
    owner: o.owner,
    ...(o.credentials ? { credentials: o.credentials } : {}),
    cluster: batch.cluster,
    workflow_id: batch.workflow_id,
    heartbeat_seconds: batch.heartbeat_seconds,
    signal_deaths: "bridge",
    ...(batch.env ? { env: batch.env } : {}),
    ...(batch.working_dir ? { working_dir: batch.working_dir } : {}),
    umask: ownerUmask(),
    instances: part.instances.map((i) => ({
      id: i.id,
      task_id: i.task_id,
      step: i.step - part.offset,
      attempt: i.attempt,
      name: i.name,
      command: i.command,
      ...instanceLogs(logDir, batch.workflow_id, i),
      memory_bytes: batch.resources.memory_bytes,
      runtime_seconds: batch.resources.runtime_seconds,
      ...(i.env ? { env: i.env } : {}),
      ...(i.working_dir ? { working_dir: i.working_dir } : {}),
    })),
  };
}

let umaskRead: number | undefined;

/** This process's umask (the owner's usual one), read from /proc without changing it. */
export function ownerUmask(): number {
  if (umaskRead === undefined) {
    const m = /^Umask:\s*([0-7]+)/m.exec(readFileSafe("/proc/self/status"));
    umaskRead = m ? Number.parseInt(m[1]!, 8) : 0o022;
  }
  return umaskRead;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * `--mem` in MiB and `--time` in minutes, rounded up (Slurm counts whole minutes). The
 * names a batch carries are checked again here, whoever published it: a newline in one
 * would add lines to the job script. A batch that fails is refused, never written.
 */
export function sbatchOptions(batch: LaunchBatch, tag: string, files: PartFiles): string[] {
  const r = batch.resources;
  for (const [what, value] of [
    ["partition (queue)", batch.queue],
    ["account (project)", r.project ?? "none"],
    ["job name", tag],
  ] as const) {
    const problem = optionValueProblem(what, value);
    if (problem) throw new SbatchRefused(problem);
  }
  return [
    `--job-name=${tag}`,
    `--partition=${batch.queue}`,
    `--mem=${Math.max(1, Math.ceil(r.memory_bytes / 1024 ** 2))}M`,
    `--time=${Math.max(1, Math.ceil(r.runtime_seconds / 60))}`,
    `--cpus-per-task=${r.cores}`,
    ...(r.project ? [`--account=${r.project}`] : []),
    "--ntasks=1",
    // Drover retries; a job Slurm requeued by itself would run an instance twice.
    "--no-requeue",
    `--output=${join(files.dir, "slurm-%A_%a.out")}`,
  ];
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function jobScript(
  options: string[],
  node: string,
  worker: string,
  manifest: string,
): string {
  return [
    "#!/bin/bash",
    ...options.map((o) => `#SBATCH ${o}`),
    "# One element of a Drover launch batch: the worker wrapper runs the instance whose",
    "# step is $SLURM_ARRAY_TASK_ID in the manifest and reports it over NATS.",
    `exec ${shellQuote(node)} ${shellQuote(worker)} --manifest ${shellQuote(manifest)}`,
    "",
  ].join("\n");
}

export interface WrittenPart {
  part: Part;
  tag: string;
  files: PartFiles;
  manifest: Manifest;
  /** the --array value */
  array: string;
}

export function writePart(
  batch: LaunchBatch,
  part: Part,
  o: WorkerIdentity & {
    jobsDir: string;
    logDir: string;
    tagPrefix: string;
    node: string;
    worker: string;
  },
): WrittenPart {
  const tag = batchTag(o.tagPrefix, batch, part.part);
  const files = partFiles(o.jobsDir, batch.batch_id, part.part);
  const manifest = buildManifest(batch, part, o);
  // The owner's only: the manifest holds every command, the environment and the NATS URL.
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  mkdirSync(join(o.logDir, String(batch.workflow_id)), { recursive: true, mode: 0o700 });
  writeFileSync(files.manifest, JSON.stringify(manifest), { mode: 0o600 });
  writeFileSync(
    files.script,
    jobScript(sbatchOptions(batch, tag, files), o.node, o.worker, files.manifest),
    { mode: 0o700 },
  );
  return {
    part,
    tag,
    files,
    manifest,
    array: compactIndices(manifest.instances.map((i) => i.step)),
  };
}

/** How a failed sbatch is handled: retried (forever, backing off) or refused at once. */
export type SbatchFailure = "transient" | "permanent" | "unknown";

const TRANSIENT = [
  /socket timed out/i,
  /unable to contact slurm controller/i,
  /temporarily unable to accept job/i,
  /resource temporarily unavailable/i,
  /connection refused/i,
  /connection reset/i,
  /zero bytes were transmitted/i,
  /transport endpoint/i,
  /submit ?limit|MaxSubmit|QOSMaxSubmit|AssocMaxSubmit/i,
  /job violates accounting\/QOS policy/i,
  /slurmctld.*(busy|not responding)/i,
  /timed out after/i,
  /try again/i,
];
const PERMANENT = [
  /invalid partition/i,
  /invalid account/i,
  /invalid qos/i,
  /requested node configuration is not available/i,
  /memory required by task is not available/i,
  /requested time limit is invalid/i,
  /more processors requested than permitted/i,
  /invalid job array specification/i,
  /invalid (generic resource|feature|directive)/i,
  /unrecognized option|invalid option|unknown option/i,
  /ENOENT|no such file/i,
];

export function classifySbatchError(stderr: string): SbatchFailure {
  if (TRANSIENT.some((r) => r.test(stderr))) return "transient";
  if (PERMANENT.some((r) => r.test(stderr))) return "permanent";
  return "unknown";
}

/** Capped exponential backoff with ±25 % jitter. */
export function submitBackoffMs(attempt: number, baseMs = 1000, capMs = 60_000): number {
  const raw = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(raw * (0.75 + Math.random() * 0.5));
}

export class SbatchRefused extends Error {
  override name = "SbatchRefused";
}

export interface SubmitOptions {
  signal: AbortSignal;
  /** submitted held (`--hold`): its workflow's limits release it (throttle.ts) */
  hold?: boolean;
  /** unknown errors are retried this many times before the batch is refused */
  maxUnknownAttempts?: number;
  baseBackoffMs?: number;
  capBackoffMs?: number;
  onRetry?(attempt: number, delayMs: number, err: CommandFailed): void;
  /**
   * Before each retry: the job a failed attempt may have submitted all the same (an
   * sbatch that timed out after the controller took the job). Throws when it cannot tell.
   */
  lookup?(): Promise<string | undefined>;
}

/**
 * Submits one part: `sbatch --parsable --array=… script`; returns the job id. Transient
 * failures are retried until they pass (or `signal` aborts: the batch is then redelivered
 * to the next bridge, never lost); permanent ones throw SbatchRefused at once, unknown
 * ones after `maxUnknownAttempts`.
 */
export async function submitPart(
  cmds: SlurmCommands,
  written: WrittenPart,
  o: SubmitOptions,
): Promise<string> {
  let failedBefore = false;
  for (let attempt = 1; ; attempt++) {
    if (failedBefore && o.lookup) {
      let found: string | undefined;
      try {
        found = await o.lookup();
      } catch {
        // Cannot tell whether the last attempt went through: do not submit, wait.
        if (o.signal.aborted) throw new Error("bridge stopping: submission abandoned");
        await sleep(submitBackoffMs(attempt, o.baseBackoffMs, o.capBackoffMs), o.signal);
        continue;
      }
      if (found) return found;
    }
    const result = await cmds.run("sbatch", [
      "--parsable",
      `--array=${written.array}`,
      ...(o.hold ? ["--hold"] : []),
      written.files.script,
    ]);
    const jobId = /^(\d+)/.exec(result.stdout.trim())?.[1];
    if (result.code === 0 && jobId) return jobId;
    const err = new CommandFailed("sbatch", result);
    failedBefore = true;
    const kind = classifySbatchError(`${result.stderr}\n${result.stdout}`);
    if (kind === "permanent" || (kind === "unknown" && attempt >= (o.maxUnknownAttempts ?? 5))) {
      throw new SbatchRefused(err.message, { cause: err });
    }
    if (o.signal.aborted) throw new Error("bridge stopping: submission abandoned", { cause: err });
    const delay = submitBackoffMs(attempt, o.baseBackoffMs, o.capBackoffMs);
    o.onRetry?.(attempt, delay, err);
    await sleep(delay, o.signal);
    if (o.signal.aborted) throw new Error("bridge stopping: submission abandoned", { cause: err });
  }
}

/**
 * The job already submitted under `tag`, if any: squeue first (the controller still holds
 * jobs that ended less than MinJobAge ago), then sacct back to `sinceMs`. Both only ever
 * run for a batch delivered again, never on the normal path.
 */
export async function findJobByTag(
  cmds: SlurmCommands,
  tag: string,
  sinceMs: number,
): Promise<string | undefined> {
  const q = await cmds.run("squeue", [
    "--noheader",
    "--states=all",
    `--name=${tag}`,
    "--format=%F",
  ]);
  if (q.code === 0) {
    const ids = [
      ...new Set(
        q.stdout
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => /^\d+$/.test(l)),
      ),
    ];
    if (ids.length > 0) return ids.sort((a, b) => Number(a) - Number(b))[0];
  }
  const a = await cmds.run("sacct", [
    "--parsable2",
    "--noheader",
    "-X",
    `--name=${tag}`,
    `--starttime=${slurmTime(sinceMs)}`,
    "--format=JobID",
  ]);
  // Not knowing is not "not there": submitting now could submit twice. The caller retries.
  if (a.code !== 0) throw new CommandFailed("sacct", a);
  const ids = [
    ...new Set(
      a.stdout
        .split("\n")
        .map((l) => /^(\d+)/.exec(l.trim())?.[1])
        .filter((x): x is string => x !== undefined),
    ),
  ];
  return ids.sort((a, b) => Number(a) - Number(b))[0];
}
