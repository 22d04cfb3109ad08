import { readFileSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/**
 * Drover's configuration, parsed once. Precedence: values passed in code > environment
 * (`DROVER_*`) > the running stack's file written by `drover up` > config file
 * (`DROVER_CONFIG`) > defaults. A bad value anywhere fails with every problem listed.
 */
const ConfigSchema = z.object({
  natsUrl: z.string().regex(/^(nats|tls|ws|wss):\/\//, "must be a nats:// URL"),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  guiPort: z.coerce.number().int().min(1).max(65535),
  guiHost: z.string().min(1),
  home: z.string().min(1),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  /** Slots of the local bridge's `local` cluster (parallel commands). */
  localSlots: z.coerce.number().int().min(1),
  /**
   * How the local bridge holds commands to their memory: `cgroup` (the kernel, a memory
   * cgroup per command), `sampled` (resident memory read every 250 ms), `auto` (cgroup
   * where one can be made, else sampled).
   */
  localMemory: z.enum(["auto", "cgroup", "sampled"]),
  /** How often live instances heartbeat, in seconds. */
  heartbeatSeconds: z.coerce.number().positive(),
  /** Heartbeats missed before an instance is declared lost. */
  missedHeartbeats: z.coerce.number().int().min(1),
  /** Period of the schedule and reap sweeps, in seconds. */
  sweepSeconds: z.coerce.number().positive(),
  /** Where the local bridge writes per-instance stdout/stderr files. */
  logDir: z.string().min(1),
});

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = { -readonly [K in keyof Config]?: Config[K] | string };

const ENV_KEYS: Record<keyof Config, string> = {
  natsUrl: "DROVER_NATS_URL",
  databaseUrl: "DROVER_DATABASE_URL",
  guiPort: "DROVER_GUI_PORT",
  guiHost: "DROVER_GUI_HOST",
  home: "DROVER_HOME",
  logLevel: "DROVER_LOG_LEVEL",
  localSlots: "DROVER_LOCAL_SLOTS",
  localMemory: "DROVER_LOCAL_MEMORY",
  heartbeatSeconds: "DROVER_HEARTBEAT_SECONDS",
  missedHeartbeats: "DROVER_MISSED_HEARTBEATS",
  sweepSeconds: "DROVER_SWEEP_SECONDS",
  logDir: "DROVER_LOG_DIR",
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

function defaults(home: string): ConfigInput {
  return {
    natsUrl: "nats://127.0.0.1:4222",
    databaseUrl: "postgres://postgres@127.0.0.1:5432/drover",
    guiPort: 4280,
    guiHost: "127.0.0.1",
    home,
    logLevel: "info",
    localSlots: 0,
    localMemory: "auto",
    heartbeatSeconds: 30,
    missedHeartbeats: 3,
    sweepSeconds: 5,
    logDir: join(home, "logs"),
  };
}

function readObjectFile(path: string, what: string, problems: string[]): ConfigInput {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && what === "stack file") return {};
    problems.push(`${what} ${path}: cannot be read (${(err as Error).message})`);
    return {};
  }
  try {
    const value: unknown = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      problems.push(`${what} ${path}: must hold an object of settings`);
      return {};
    }
    return value as ConfigInput;
  } catch (err) {
    problems.push(
      `${what} ${path}: not valid ${path.endsWith(".json") ? "JSON" : "YAML"} (${(err as Error).message})`,
    );
    return {};
  }
}

/** The file `drover up` writes so that commands in other shells find the running stack. */
export function stackFilePath(home: string): string {
  return join(home, "stack.json");
}

export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.DROVER_HOME ?? join(homedir(), ".drover");
}

export function loadConfig(
  overrides: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const problems: string[] = [];
  const home = overrides.home ?? defaultHome(env);
  const fromFile = env.DROVER_CONFIG
    ? readObjectFile(env.DROVER_CONFIG, "config file", problems)
    : {};
  const fromStack = readObjectFile(stackFilePath(String(home)), "stack file", problems);
  const fromEnv: ConfigInput = {};
  for (const [key, name] of Object.entries(ENV_KEYS) as [keyof Config, string][]) {
    const value = env[name];
    if (value !== undefined && value !== "") fromEnv[key] = value;
  }
  const known = new Set(Object.keys(ENV_KEYS));
  for (const key of Object.keys(fromFile)) {
    if (!known.has(key)) problems.push(`config file: unknown setting "${key}"`);
  }
  const stackKnown = Object.fromEntries(
    Object.entries(fromStack).filter(([key]) => known.has(key)),
  ) as ConfigInput;
  const merged = {
    ...defaults(String(home)),
    ...fromFile,
    ...stackKnown,
    ...fromEnv,
    ...overrides,
  };
  if (merged.home !== home && merged.logDir === join(String(home), "logs")) {
    merged.logDir = join(String(merged.home), "logs");
  }
  if (Number(merged.localSlots) === 0) merged.localSlots = availableParallelism();
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? "");
      const source = key in ENV_KEYS ? ` (${ENV_KEYS[key as keyof Config]})` : "";
      problems.push(`${key}${source}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  return Object.freeze(parsed.data);
}
