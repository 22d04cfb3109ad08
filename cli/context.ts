// What commands that talk to a running Drover share: the configuration (environment >
// the running stack's file > config file > defaults) and a NATS connection.
import type { NatsConnection } from "@nats-io/nats-core";
import { connectBus } from "../bus/connect.ts";
import { Queries } from "../client/query.ts";
import { type Config, loadConfig } from "../core/config.ts";
import { CliError, type Io } from "./args.ts";

export function cliConfig(io: Io): Config {
  return loadConfig({}, io.env as NodeJS.ProcessEnv);
}

/** Runs `fn` with a NATS connection, closed afterwards; an unreachable NATS is exit 2. */
export async function withBus<T>(
  io: Io,
  fn: (nc: NatsConnection, config: Config) => Promise<T>,
): Promise<T> {
  const config = cliConfig(io);
  let nc: NatsConnection;
  try {
    nc = await connectBus(config.natsUrl, "drover-cli", { reconnect: false, timeoutMs: 3000 });
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
