/**
 * A task's environment (SPEC.md §4): the submitter's environment as it was at submit,
 * less what Drover must never pass on, then the workflow's, the template's and the
 * task's own `env` (the nearest wins), then who the task is (`DROVER_TASK_ID`, …).
 * Nothing of a bridge's, a worker's or a function's own environment reaches a command:
 * those hold the service's credentials.
 */
import { holdsUrlPassword } from "./redact.ts";
import { textProblem } from "./text.ts";

/** What is never taken from the submitter's environment: credentials and service settings. */
const NEVER_NAMES = new Set(["DROVER_DATABASE_URL"]);
const NEVER_PREFIXES = ["DROVER_NATS_", "PG", "NATS_"];

/** The variables a task gets for itself; whatever a submitter or spec says is replaced. */
export const TASK_IDENTITY_VARIABLES = [
  "DROVER_WORKFLOW_ID",
  "DROVER_TASK_ID",
  "DROVER_TASK_INSTANCE_ID",
  "DROVER_ATTEMPT",
  "DROVER_CLUSTER",
] as const;

/**
 * Caps: an environment travels in the submission and in every launch message of its
 * workflow (1 MB at most by NATS's default), and `execve` takes a single string of at
 * most 128 KiB.
 */
export const ENV_LIMITS = {
  /** the whole environment, names and values, as `NAME=value` lines */
  totalBytes: 256 * 1024,
  /** one `NAME=value` */
  variableBytes: 128 * 1024,
  /** a working folder's path */
  pathBytes: 4096,
} as const;

/** Names a spec's `env` may set: those a POSIX shell can read. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

/** Used when a launch carries no environment at all (a launch from an older publisher). */
export const FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin";

/** Whether a variable of the submitter's environment must not reach a task. */
export function neverPassed(name: string, value: string): boolean {
  if (NEVER_NAMES.has(name)) return true;
  if (NEVER_PREFIXES.some((p) => name.startsWith(p))) return true;
  if ((TASK_IDENTITY_VARIABLES as readonly string[]).includes(name)) return true;
  return holdsUrlPassword(value);
}

/**
 * The submitter's environment as a task may see it: credentials, Drover's service
 * settings and anything an `execve` would refuse (a name with `=` or NUL, a NUL in a
 * value) left out. Exported shell functions (`BASH_FUNC_module%%`) are kept: module
 * systems need them.
 */
export function captureEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined || name === "" || /[=\0]/.test(name) || value.includes("\0")) continue;
    if (neverPassed(name, value)) continue;
    out[name] = value;
  }
  return out;
}

function envBytes(env: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const [k, v] of Object.entries(env))
    total += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  return total;
}

/** The problem with a spec's `env` (names a shell can read, values without NUL, sizes), or null. */
export function envProblem(env: unknown): string | null {
  if (typeof env !== "object" || env === null || Array.isArray(env)) {
    return "env must be a map of variable names to values";
  }
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) {
      return `env variable name ${JSON.stringify(name.slice(0, 60))} is not allowed (letters, digits and _, not starting with a digit)`;
    }
    if (typeof value !== "string") return `env variable ${name} must be a string`;
    const bad = textProblem(`env variable ${name}`, value);
    if (bad) return bad;
    if (Buffer.byteLength(name) + Buffer.byteLength(value) + 1 > ENV_LIMITS.variableBytes) {
      return `env variable ${name} is over ${ENV_LIMITS.variableBytes / 1024} KiB`;
    }
  }
  const total = envBytes(env as Record<string, string>);
  if (total > ENV_LIMITS.totalBytes) {
    return `env is ${total} bytes, over the cap of ${ENV_LIMITS.totalBytes / 1024} KiB`;
  }
  return null;
}

/**
 * The problem with a captured environment, or null: only its size is checked (its
 * names are those the submitter's process had).
 */
export function capturedEnvironmentProblem(env: Readonly<Record<string, string>>): string | null {
  const total = envBytes(env);
  if (total <= ENV_LIMITS.totalBytes) return null;
  const largest = Object.entries(env)
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, 3)
    .map(([k]) => k);
  return `the submitting environment is ${total} bytes, over the cap of ${ENV_LIMITS.totalBytes / 1024} KiB (largest: ${largest.join(", ")}): unset what the tasks do not need`;
}

/** The problem with a working folder (absolute, no NUL, not too long), or null. */
export function workingDirProblem(dir: unknown): string | null {
  if (typeof dir !== "string" || dir === "") return "working_dir must be a non-empty path";
  if (!dir.startsWith("/")) return `working_dir ${JSON.stringify(dir)} must be an absolute path`;
  const bad = textProblem("working_dir", dir);
  if (bad) return bad;
  if (Buffer.byteLength(dir) > ENV_LIMITS.pathBytes) {
    return `working_dir is over ${ENV_LIMITS.pathBytes} bytes`;
  }
  return null;
}

export interface TaskIdentity {
  workflowId: number;
  taskId: number;
  instanceId: number;
  attempt: number;
  cluster: string;
}

/**
 * The complete environment of one task command: its launch's environment (captured,
 * workflow and template `env`), the task's own `env` over it, `extra` (e.g. Slurm's
 * `SLURM_*` variables of the job) under both, and who the task is on top.
 * With no launch environment at all, only a PATH.
 */
export function composeTaskEnv(
  launchEnv: Readonly<Record<string, string>> | undefined,
  taskEnv: Readonly<Record<string, string>> | undefined,
  task: TaskIdentity,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...(launchEnv === undefined ? { PATH: FALLBACK_PATH } : {}),
    ...extra,
    ...launchEnv,
    ...taskEnv,
    DROVER_WORKFLOW_ID: String(task.workflowId),
    DROVER_TASK_ID: String(task.taskId),
    DROVER_TASK_INSTANCE_ID: String(task.instanceId),
    DROVER_ATTEMPT: String(task.attempt),
    DROVER_CLUSTER: task.cluster,
  };
}
