import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { z } from "zod";
import { isToken } from "../core/identity.ts";
import type { Logger } from "../core/log.ts";
import { type EndpointContract, type ServiceContract, subjectMatches } from "./contract.ts";
import { requestDuration, requestsServed } from "./metrics.ts";

/**
 * Request/reply services (the model: nats.js services): endpoints declared once in a
 * service contract, served by one loop in the service's queue group. Requests are JSON
 * (an empty body is `{}`); every answer is JSON, the result or `{ error }` naming the
 * problem: a request that is not JSON or fails its schema, a refusal (`Refused`: an
 * unknown id, a wrong state), or an internal failure (logged). Bad input never crashes
 * a service.
 */

/** A request that is understood but refused: answered `{ error: message }`. */
export class Refused extends Error {
  override name = "Refused";
}

/**
 * An answer naming the problem (the shape every client checks for). `retry`: the failure
 * was the service's (its database away, a timeout), not the request's: asking again
 * later may succeed.
 */
export interface ErrorAnswer {
  error: string;
  retry?: true;
}

/**
 * The handler of one endpoint: the validated request in, the answer out (or an error
 * answer, which a handler may also give by throwing `Refused`).
 */
export type EndpointHandler<E> =
  // biome-ignore lint/suspicious/noExplicitAny: any subject
  E extends EndpointContract<any, infer S, infer A>
    ? (request: z.output<S>, subject: string, caller: string) => Promise<A | ErrorAnswer>
    : never;

/**
 * A request's subject names its caller: `cmd.<caller>.<verb>`, `query.<caller>.<what>`.
 * Permissions let a person publish only under their own token (the GUI, which
 * authenticates people itself, under theirs), so the token is who asks.
 */
export function callerOf(subject: string): string | undefined {
  const token = subject.split(".")[1];
  return token !== undefined && isToken(token) ? token : undefined;
}

export type Handlers<E extends Record<string, EndpointContract>> = {
  [K in keyof E]: EndpointHandler<E[K]>;
};

export interface RunningService {
  name: string;
  stop(): Promise<void>;
}

const decoder = new TextDecoder();

/** Answers one raw request; every failure becomes `{ error }`. */
export async function answer<E extends Record<string, EndpointContract>>(
  contract: ServiceContract<E>,
  handlers: Handlers<E>,
  log: Logger,
  subject: string,
  data: Uint8Array,
): Promise<unknown> {
  const name = Object.keys(contract.endpoints).find((k) =>
    subjectMatches(contract.endpoints[k]!.subject, subject),
  );
  if (name === undefined) {
    const known = Object.values(contract.endpoints).map((e) => e.subject);
    return { error: `unknown ${contract.name} ${subject} (known: ${known.join(", ")})` };
  }
  let body: unknown;
  try {
    const text = decoder.decode(data);
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    return { error: `${subject} request is not JSON: ${(err as Error).message}` };
  }
  const parsed = contract.endpoints[name]!.request.safeParse(body);
  if (!parsed.success) {
    return {
      error: `invalid ${subject} request: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`,
    };
  }
  const caller = callerOf(subject);
  if (caller === undefined) return { error: `${subject} does not name a caller` };
  const handle = handlers[name] as (
    request: unknown,
    subject: string,
    caller: string,
  ) => Promise<unknown>;
  try {
    return await handle(parsed.data, subject, caller);
  } catch (err) {
    if (err instanceof Refused) return { error: err.message };
    log.error({ err, subject }, "request failed");
    return { error: `${subject} failed: ${(err as Error).message}`, retry: true };
  }
}

/**
 * Serves a service's endpoints until stopped; stop() drains and awaits what is in flight.
 * `only`: a narrower subject than the contract's (a person's bridge listens under its
 * own token only).
 */
export function serve<E extends Record<string, EndpointContract>>(
  nc: NatsConnection,
  contract: ServiceContract<E>,
  handlers: Handlers<E>,
  parentLog: Logger,
  only?: string,
): RunningService {
  if (only !== undefined && !subjectMatches(contract.subjects, only)) {
    throw new Error(`${only} is outside ${contract.name}'s ${contract.subjects}`);
  }
  const log = parentLog.child({ service: contract.name });
  const inFlight = new Set<Promise<void>>();
  const respond = (m: Msg, body: unknown) => {
    if (!m.reply) return;
    try {
      m.respond(JSON.stringify(body));
    } catch (err) {
      // e.g. over the server's max payload
      log.warn({ err, subject: m.subject }, "answer could not be sent");
      m.respond(
        JSON.stringify({ error: `the answer could not be sent: ${(err as Error).message}` }),
      );
    }
  };
  const sub = nc.subscribe(only ?? contract.subjects, {
    queue: contract.queue,
    callback: (err, m) => {
      if (err) return log.warn({ err }, "subscription error");
      const subject =
        Object.values(contract.endpoints).find((e) => subjectMatches(e.subject, m.subject))
          ?.subject ?? "unknown";
      const labels = { service: contract.name, subject };
      const end = requestDuration.startTimer(labels);
      const p = answer(contract, handlers, log, m.subject, m.data)
        .then((body) => {
          end();
          const failed = typeof body === "object" && body !== null && "error" in body;
          requestsServed.inc({ ...labels, outcome: failed ? "error" : "ok" });
          respond(m, body);
        })
        .catch((e) => log.error({ err: e }, "request not answered"));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    },
  });
  const subjects = Object.values(contract.endpoints).map((e) => e.subject);
  log.info({ subjects }, "service started");
  return {
    name: contract.name,
    async stop() {
      await sub.drain().catch(() => {});
      await Promise.allSettled([...inFlight]);
      log.info("service stopped");
    },
  };
}
