// What commands that talk to a running Drover share: the configuration (environment >
// the running stack's file > config file > defaults) and a NATS connection.
import type { NatsConnection } from "@nats-io/nats-core";
import { connectConfigured } from "../bus/connect.ts";
import { Queries } from "../client/query.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { redactUrls } from "../core/redact.ts";
import { CliError, type Io } from "./args.ts";
import { isAlive, readStackFile } from "./stack-file.ts";

export function cliConfig(io: Io): Config {
  const config = loadConfig({}, io.env as NodeJS.ProcessEnv);
  warnIfStackHidden(io, config);
  return config;
}

/**
 * DROVER_NATS_URL wins over the stack file, so a shell that still exports another NATS
 * (a site's, or the one `services.sh up` printed) talks past the stack `drover up`
 * started with its own NATS: say so, or the user only sees "no stack listening".
 */
function warnIfStackHidden(io: Io, config: Config): void {
  if (!io.env.DROVER_NATS_URL) return;
  const stack = readStackFile(config.home);
  if (!stack || stack.natsUrl === config.natsUrl || !isAlive(stack.pid)) return;
  io.stderr(
    `drover: note: DROVER_NATS_URL (${redactUrls(config.natsUrl)}) is not the NATS of the stack running from ${config.home} (${redactUrls(stack.natsUrl)}); unset DROVER_NATS_URL to use that stack\n`,
  );
}

/** Runs `fn` with a NATS connection, closed afterwards; an unreachable NATS is exit 2. */
export async function withBus<T>(
  io: Io,
  fn: (nc: NatsConnection, config: Config) => Promise<T>,
): Promise<T> {
  const config = cliConfig(io);
  let nc: NatsConnection;
  try {
    nc = await connectConfigured(config, "drover-cli", { reconnect: false, timeoutMs: 3000 });
  } catch (err) {
    throw new CliError(
      `${(err as Error).message} (is the stack running? start it with 'drover up')`,
      2,
      {
        cause: err,
      },
    );
  }
  try {
    return await fn(nc, config);
  } finally {
    await nc.close();
  }
}

export async function withQueries<T>(
  io: Io,
  fn: (q: Queries, nc: NatsConnection) => Promise<T>,
): Promise<T> {
  return withBus(io, (nc) => fn(new Queries(nc), nc));
}

/** A positional id (WF, TASK): a positive whole number, else a usage error. */
export function parseId(value: string | undefined, what: string): number {
  const n = Number(value);
  if (!value || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new CliError(`${what} must be a positive whole number, not '${value ?? ""}'`, 2);
  }
  return n;
}
