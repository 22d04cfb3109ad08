import { type NatsConnection, nkeyAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type Config, credentialsPath } from "../core/config.ts";
import { localUserToken } from "../core/identity.ts";
import { redactUrls } from "../core/redact.ts";
import { type Credentials, inboxPrefix, type Role, readCredentials } from "./credentials.ts";

export type { NatsConnection };

/** Who each connection is: the token of its credentials, or of this process's user. */
const tokens = new WeakMap<NatsConnection, string>();
/** The role of each connection made with credentials. */
const roles = new WeakMap<NatsConnection, Role>();
/** The credentials file a connection was made with, when it was made from one. */
const credentialFiles = new WeakMap<NatsConnection, string>();

/** The credentials file of a connection (a bridge's workers report with the same). */
export function connectionCredentials(nc: NatsConnection): string | undefined {
  return credentialFiles.get(nc);
}

/**
 * The user token a connection publishes under: its credentials' token, or, on a NATS
 * without authentication (a test, a personal stack of old), the Unix user of this
 * process.
 */
export function connectionToken(nc: NatsConnection): string {
  return tokens.get(nc) ?? localUserToken();
}

/** The role a connection holds; none on a NATS without authentication (it may do anything). */
export function connectionRole(nc: NatsConnection): Role | undefined {
  return roles.get(nc);
}

export interface ConnectOptions {
  reconnect?: boolean;
  timeoutMs?: number;
  /** the path of a credentials file (bus/credentials.ts), or the credentials */
  credentials?: string | Credentials | undefined;
}

/**
 * Connects to NATS (`url` may list several servers, comma-separated), with credentials
 * when given: an nkey, the holder's own inbox prefix (no one else may subscribe to it),
 * and their token remembered for connectionToken. Long-lived processes reconnect
 * forever: NATS may restart under a running workflow (invariant 6) and every function
 * must come back by itself. Refused credentials fail at once with a message saying so.
 */
export async function connectBus(
  url: string,
  name: string,
  options: ConnectOptions = {},
): Promise<NatsConnection> {
  const credentials =
    typeof options.credentials === "string"
      ? readCredentials(options.credentials)
      : options.credentials;
  const servers = url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name,
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: options.reconnect === false ? 0 : -1,
      reconnectTimeWait: 500,
      waitOnFirstConnect: false,
      // No Error (and stack capture) made ahead for every request and publish, in case it
      // fails: a measurable share of a busy bridge's time. Failures still say what failed.
      noAsyncTraces: true,
      ...(credentials
        ? {
            authenticator: nkeyAuthenticator(new TextEncoder().encode(credentials.seed)),
            inboxPrefix: inboxPrefix(credentials.token),
          }
        : {}),
    });
  } catch (err) {
    const message = (err as Error).message;
    const where = redactUrls(url);
    const who = credentials ? ` as ${credentials.user}` : "";
    if (/authoriz|authenticat/i.test(message)) {
      throw new Error(
        credentials
          ? `NATS at ${where} refused the credentials of ${credentials.user}: ${message}`
          : `NATS at ${where} requires credentials (set DROVER_CREDENTIALS): ${message}`,
        { cause: err },
      );
    }
    throw new Error(`cannot connect to NATS at ${where}${who}: ${message}`, { cause: err });
  }
  if (credentials) {
    tokens.set(nc, credentials.token);
    roles.set(nc, credentials.role);
  }
  if (typeof options.credentials === "string") credentialFiles.set(nc, options.credentials);
  return nc;
}

/** Connects as the configuration says: its NATS URL, its credentials if any. */
export function connectConfigured(
  config: Pick<Config, "natsUrl" | "credentials" | "home">,
  name: string,
  options: Omit<ConnectOptions, "credentials"> = {},
): Promise<NatsConnection> {
  return connectBus(config.natsUrl, name, { ...options, credentials: credentialsPath(config) });
}
