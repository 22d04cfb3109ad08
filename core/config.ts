import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { CAPS } from "./limits.ts";

/**
 * Drover's configuration, parsed once. Precedence: values passed in code > environment
 * (`DROVER_*`) > the running stack's file written by `drover up` > config file
 * (`DROVER_CONFIG`) > defaults. A bad value anywhere fails with every problem listed.
 */
const ConfigSchema = z.object({
  natsUrl: z.string().regex(/^(nats|tls|ws|wss):\/\//, "must be a nats:// URL"),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  /**
   * The database owner's URL, for migrations only (`drover migrate`, and functions at
   * start-up). Empty: migrations use `databaseUrl`. A site runs the functions as a role
   * that may not change the schema (sql/000013_function_role.sql) and sets this only
   * where it migrates.
   */
  migrateDatabaseUrl: z.union([
    z.literal(""),
    z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  ]),
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
  /**
   * Seconds a launch batch may stay unpublished, or a task QUEUED without a launch,
   * before the reaper sends it again (a lost message). 0 = twice the heartbeat, at
   * least 10 s.
   */
  stuckSeconds: z.coerce.number().nonnegative(),
  /** Where the local bridge writes per-instance stdout/stderr files. */
  logDir: z.string().min(1),
  /**
   * Port of a function process's health endpoint (/livez, /readyz) on every address, for
   * an orchestrator's probes. 0 = no endpoint.
   */
  healthPort: z.coerce.number().int().min(0).max(65535),
  /**
   * Port of a process's Prometheus endpoint (/metrics) on every address: functions,
   * bridges and the GUI. 0 = no endpoint. A function process whose metrics port is its
   * health port serves both on one server.
   */
  metricsPort: z.coerce.number().int().min(0).max(65535),
  /**
   * Copies of each JetStream stream on a clustered NATS (3 on a 3-server cluster, so a
   * server's loss stops nothing). 0 = the server's default for new streams, existing
   * ones left as they are.
   */
  streamReplicas: z.coerce.number().int().min(0).max(5),
  /**
   * This person's (or service's) NATS credentials file, from `drover admin` or `drover
   * up`. Empty: `<home>/credentials.json` when it exists, else none (a NATS without
   * authentication).
   */
  credentials: z.string(),
  /**
   * Who may act in the GUI: `token` (a personal stack: a random token in the printed
   * URL, `guiToken` if set) or `header` (a site: the user named by `guiUserHeader`, from
   * the proxies in `guiTrustedProxies` only). Reading needs neither.
   */
  guiAuth: z.enum(["token", "header"]),
  guiToken: z.string(),
  guiUserHeader: z.string().regex(/^[A-Za-z0-9-]+$/, "must be an HTTP header name"),
  /** comma-separated addresses of the sign-on proxies whose header is believed */
  guiTrustedProxies: z.string(),
  /** comma-separated Host names the GUI answers to (besides loopback and its address) */
  guiHosts: z.string(),
  /** Live-update (SSE) connections the GUI holds open at once; more are answered 503. */
  guiMaxStreams: z.coerce.number().int().min(1),
  /** Bytes each shared JetStream stream may hold (the oldest work is never dropped: publishes are refused). */
  streamMaxBytes: z.coerce
    .number()
    .int()
    .min(1024 * 1024),
  /** Bytes each person's launch stream, kill stream and DAG bucket may hold. */
  personMaxBytes: z.coerce
    .number()
    .int()
    .min(1024 * 1024),
  /** Tasks one workflow may have (bind-dag refuses more). */
  maxTasks: z.coerce.number().int().min(1),
  /** Bytes of a DAG once decompressed (bind-dag refuses more: a gzip bomb stops there). */
  dagMaxBytes: z.coerce
    .number()
    .int()
    .min(1024 * 1024),
  /** Workflows one person may have not yet ended; a submission past it is refused. 0 = no cap. */
  maxActiveWorkflows: z.coerce.number().int().min(0),
});

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = { -readonly [K in keyof Config]?: Config[K] | string };

/** The environment variable of each setting. */
export const ENV_KEYS: Record<keyof Config, string> = {
  natsUrl: "DROVER_NATS_URL",
  databaseUrl: "DROVER_DATABASE_URL",
  migrateDatabaseUrl: "DROVER_MIGRATE_DATABASE_URL",
  guiPort: "DROVER_GUI_PORT",
  guiHost: "DROVER_GUI_HOST",
  home: "DROVER_HOME",
  logLevel: "DROVER_LOG_LEVEL",
  localSlots: "DROVER_LOCAL_SLOTS",
  localMemory: "DROVER_LOCAL_MEMORY",
  heartbeatSeconds: "DROVER_HEARTBEAT_SECONDS",
  missedHeartbeats: "DROVER_MISSED_HEARTBEATS",
  sweepSeconds: "DROVER_SWEEP_SECONDS",
  stuckSeconds: "DROVER_STUCK_SECONDS",
  logDir: "DROVER_LOG_DIR",
  healthPort: "DROVER_HEALTH_PORT",
  metricsPort: "DROVER_METRICS_PORT",
  streamReplicas: "DROVER_STREAM_REPLICAS",
  credentials: "DROVER_CREDENTIALS",
  guiAuth: "DROVER_GUI_AUTH",
  guiToken: "DROVER_GUI_TOKEN",
  guiUserHeader: "DROVER_GUI_USER_HEADER",
  guiTrustedProxies: "DROVER_GUI_TRUSTED_PROXIES",
  guiHosts: "DROVER_GUI_HOSTS",
  guiMaxStreams: "DROVER_GUI_MAX_STREAMS",
  streamMaxBytes: "DROVER_STREAM_MAX_BYTES",
  personMaxBytes: "DROVER_PERSON_MAX_BYTES",
  maxTasks: "DROVER_MAX_TASKS",
  dagMaxBytes: "DROVER_DAG_MAX_BYTES",
  maxActiveWorkflows: "DROVER_MAX_ACTIVE_WORKFLOWS",
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
    migrateDatabaseUrl: "",
    guiPort: 4280,
    guiHost: "127.0.0.1",
    home,
    logLevel: "info",
    localSlots: 0,
    localMemory: "auto",
    heartbeatSeconds: 30,
    missedHeartbeats: 3,
    sweepSeconds: 5,
    stuckSeconds: 0,
    logDir: join(home, "logs"),
    healthPort: 0,
    metricsPort: 0,
    streamReplicas: 0,
    credentials: "",
    guiAuth: "token",
    guiToken: "",
    guiUserHeader: "X-Remote-User",
    guiTrustedProxies: "127.0.0.1,::1",
    guiHosts: "",
    guiMaxStreams: CAPS.guiStreams,
    streamMaxBytes: CAPS.streamBytes,
    personMaxBytes: CAPS.personBytes,
    maxTasks: CAPS.tasksPerWorkflow,
    dagMaxBytes: CAPS.dagBytes,
    maxActiveWorkflows: CAPS.activeWorkflowsPerPerson,
  };
}

/** A comma-separated setting as its entries. */
export function listSetting(value: string): string[] {
  return value
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** The credentials file to connect with (see `credentials`), or none. */
export function credentialsPath(config: Pick<Config, "credentials" | "home">): string | undefined {
  if (config.credentials !== "") return config.credentials;
  const own = join(config.home, "credentials.json");
  return existsSync(own) ? own : undefined;
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
