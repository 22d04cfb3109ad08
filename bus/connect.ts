import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";

export type { NatsConnection };

/**
 * Connects to NATS. Long-lived processes reconnect forever: NATS may restart under a
 * running workflow (invariant 6) and every function must come back by itself.
 */
export async function connectBus(
  url: string,
  name: string,
  options: { reconnect?: boolean; timeoutMs?: number } = {},
): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url,
      name,
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: options.reconnect === false ? 0 : -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: false,
    });
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${url}: ${(err as Error).message}`, { cause: err });
  }
}
