import type { NatsConnection } from "@nats-io/nats-core";

/**
 * The service failed on its side (its database away, say): the same request may succeed
 * when asked again. Also what a timeout is.
 */
export class ServiceUnavailable extends Error {
  override name = "ServiceUnavailable";
}

/**
 * A JSON request to a Drover service over core NATS. No responder means no stack is
 * running there: said as such. `refused` builds the error for an `{ error }` answer.
 */
export async function requestJson<T>(
  nc: NatsConnection,
  subject: string,
  body: unknown,
  options: { timeoutMs: number; service: string; refused: (message: string) => Error },
): Promise<T> {
  let reply: { json<U>(): U };
  try {
    reply = await nc.request(subject, JSON.stringify(body), { timeout: options.timeoutMs });
  } catch (err) {
    const message = (err as Error).message;
    throw new Error(
      /no responders/i.test(message)
        ? `no Drover ${options.service} service answers on this NATS: is the stack running (drover up)?`
        : `${subject} failed: ${message}`,
      { cause: err },
    );
  }
  const answer = reply.json<T | { error: string; retry?: boolean }>();
  if (answer && typeof answer === "object" && "error" in answer) {
    const { error, retry } = answer as { error: string; retry?: boolean };
    throw retry === true ? new ServiceUnavailable(error) : options.refused(error);
  }
  return answer as T;
}
