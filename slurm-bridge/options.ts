import { join } from "node:path";
import { z } from "zod";
import type { Config } from "../core/config.ts";
import type { SlurmBridgeOptions } from "./bridge.ts";

/**
 * The slurm-bridge's own settings, from `DROVER_SLURM_*` variables on top of the common
 * configuration (core/config.ts: NATS URL, home, log directory). Parsed once; every
 * problem is listed.
 */
const Schema = z.object({
  cluster: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '-' or '_'"),
  pollSeconds: z.coerce.number().positive(),
  maxPollSeconds: z.coerce.number().positive(),
  stateDir: z.string().min(1),
  jobsDir: z.string().min(1).optional(),
  tagPrefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, "a letter, then up to 31 letters, digits or '_'")
    .optional(),
  workerNatsUrl: z
    .string()
    .regex(/^(nats|tls|ws|wss):\/\//, "must be a nats:// URL")
    .optional(),
});

export type SlurmSettings = Readonly<z.infer<typeof Schema>>;

const ENV: Record<keyof SlurmSettings, string> = {
  cluster: "DROVER_SLURM_CLUSTER",
  pollSeconds: "DROVER_SLURM_POLL_SECONDS",
  maxPollSeconds: "DROVER_SLURM_MAX_POLL_SECONDS",
  stateDir: "DROVER_SLURM_STATE_DIR",
  jobsDir: "DROVER_SLURM_JOBS_DIR",
  tagPrefix: "DROVER_SLURM_TAG",
  workerNatsUrl: "DROVER_SLURM_WORKER_NATS_URL",
};

export function loadSlurmSettings(
  config: Config,
  overrides: Partial<Record<keyof SlurmSettings, string | number>> = {},
  env: NodeJS.ProcessEnv = process.env,
): SlurmSettings {
  const fromEnv: Record<string, string> = {};
  for (const [key, name] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== "") fromEnv[key] = value;
  }
  const merged = {
    cluster: "slurm",
    pollSeconds: 10,
    maxPollSeconds: 60,
    stateDir: join(config.home, "slurm-bridge"),
    ...fromEnv,
    ...overrides,
  };
  const parsed = Schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0] ?? "");
      return `${key}${key in ENV ? ` (${ENV[key as keyof SlurmSettings]})` : ""}: ${i.message}`;
    });
    throw new Error(`invalid slurm-bridge settings:\n  ${problems.join("\n  ")}`);
  }
  if (parsed.data.maxPollSeconds < parsed.data.pollSeconds) {
    throw new Error(
      "invalid slurm-bridge settings:\n  maxPollSeconds (DROVER_SLURM_MAX_POLL_SECONDS): must be at least the poll interval",
    );
  }
  return Object.freeze(parsed.data);
}

/** The bridge's options from the configuration and these settings (NATS and logger aside). */
export function bridgeOptions(
  config: Config,
  settings: SlurmSettings,
): Omit<SlurmBridgeOptions, "nc" | "log"> {
  return {
    natsUrl: settings.workerNatsUrl ?? config.natsUrl,
    cluster: settings.cluster,
    stateDir: settings.stateDir,
    logDir: config.logDir,
    pollSeconds: settings.pollSeconds,
    maxPollSeconds: settings.maxPollSeconds,
    ...(settings.jobsDir ? { jobsDir: settings.jobsDir } : {}),
    ...(settings.tagPrefix ? { tagPrefix: settings.tagPrefix } : {}),
  };
}
