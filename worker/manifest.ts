import { z } from "zod";
import { isToken } from "../core/identity.ts";

/**
 * What a bridge writes for the workers of one launch batch (one file per Slurm array):
 * every element reads it and runs the instance whose `step` is its array index.
 */
const id = z.number().int().positive();

export const ManifestInstance = z.object({
  id,
  task_id: id,
  step: z.number().int().nonnegative(),
  attempt: z.number().int().positive(),
  name: z.string(),
  command: z.string(),
  stdout: z.string().min(1),
  stderr: z.string().min(1),
  /** informational: Slurm enforces the limits, the worker only measures */
  memory_bytes: z.number().int().positive().optional(),
  runtime_seconds: z.number().int().positive().optional(),
  /** the task's own env and working folder, over the manifest's */
  env: z.record(z.string(), z.string()).optional(),
  working_dir: z.string().optional(),
});

export const Manifest = z.object({
  nats_url: z.string().min(1),
  /**
   * The person whose instances these are (their user token): reports go out under it.
   * Absent in manifests of older bridges: the worker's own Unix user.
   */
  owner: z.string().refine(isToken, "must be a user token").optional(),
  /** the owner's NATS credentials file, readable by them alone (none: no authentication) */
  credentials: z.string().min(1).optional(),
  cluster: z.string().min(1),
  workflow_id: id,
  heartbeat_seconds: z.number().positive(),
  /**
   * Who reports a command that died by a signal (or exited > 128, as a shell reports one),
   * or any end after the worker itself was signalled. `report` (default): the worker, as
   * an `error` naming the signal. `bridge`: nobody here; the Slurm bridge reports it from
   * sacct, which alone can tell an out-of-memory kill, a time limit or a cancellation apart
   * (with cgroups the OOM killer just SIGKILLs the command).
   */
  signal_deaths: z.enum(["report", "bridge"]).optional(),
  /**
   * The environment of every command (the launch batch's: SPEC.md §4); Slurm's SLURM_*
   * variables are added by the worker, nothing else of its own environment.
   */
  env: z.record(z.string(), z.string()).optional(),
  working_dir: z.string().optional(),
  /** the umask for the commands (the job itself runs under the bridge's 077) */
  umask: z.number().int().min(0).max(0o777).optional(),
  instances: z.array(ManifestInstance).min(1),
});

export type Manifest = z.infer<typeof Manifest>;
export type ManifestInstance = z.infer<typeof ManifestInstance>;

export class ManifestError extends Error {
  override name = "ManifestError";
}

export function parseManifest(text: string, source: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${source}: not JSON (${(err as Error).message})`);
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) throw new ManifestError(`${source}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function instanceForStep(manifest: Manifest, step: number): ManifestInstance {
  const instance = manifest.instances.find((i) => i.step === step);
  if (!instance) throw new ManifestError(`no instance has step ${step} in the manifest`);
  return instance;
}
