import { z } from "zod";
import type { ConsumerDefinition } from "./consumer.ts";
import type { BusContext, Delivery } from "./context.ts";
import { subjectMatches } from "./contract.ts";
import { PermanentError, RetryLaterError } from "./errors.ts";

/**
 * What becomes of one delivered message, decided without touching it: the consume loop
 * (bus/runtime.ts) applies the outcome to the JetStream message, and tests call
 * `dispatch` directly with a real context to see what the runtime would do.
 *
 * - `ack`: the handler returned (it commits before returning).
 * - `nak`: try again after that many ms (`RetryLaterError`, or any other error, with a
 *   backoff by delivery count).
 * - `deadLetter`: the message can never succeed (not JSON, fails its schema,
 *   `PermanentError`), or failed on its last delivery (`maxDeliver`).
 */
export type Outcome = { ack: true } | { nak: number; error: unknown } | { deadLetter: string };

/** A delivered message as the runtime sees it. */
export interface Delivered {
  subject: string;
  data: Uint8Array;
  /** 1 on the first delivery */
  delivery: number;
}

export const DEFAULT_MAX_DELIVER = 10;

const decoder = new TextDecoder();

/** Redelivery delay after an unexpected failure: exponential, capped, jittered. */
export function backoffMs(delivery: number): number {
  const base = Math.min(30_000, 200 * 2 ** Math.max(0, delivery - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** The contract of a definition that a subject falls under, if any. */
export function contractFor<M, C extends BusContext>(
  def: ConsumerDefinition<M, C>,
  subject: string,
): ConsumerDefinition<M, C>["contracts"][number] | undefined {
  return def.contracts.find((c) => subjectMatches(c.subject, subject));
}

/** Parses and validates a message by its contract, calls the handler, classifies errors. */
export async function dispatch<M, C extends BusContext>(
  def: ConsumerDefinition<M, C>,
  message: Delivered,
  ctx: C & Partial<Pick<Delivery, "working">>,
): Promise<Outcome> {
  let data: unknown;
  try {
    data = JSON.parse(decoder.decode(message.data));
  } catch (err) {
    return { deadLetter: `payload is not JSON: ${(err as Error).message}` };
  }
  const contract = contractFor(def, message.subject);
  if (!contract) return { deadLetter: `no handler for subject ${message.subject}` };
  const parsed = contract.schema.safeParse(data);
  if (!parsed.success) {
    return {
      deadLetter: `invalid ${message.subject} message: ${z.prettifyError(parsed.error)}`,
    };
  }
  const incoming = { subject: contract.subject, actualSubject: message.subject, data: parsed.data };
  try {
    await def.handle(incoming as M, {
      ...ctx,
      working: ctx.working ?? (() => {}),
      delivery: message.delivery,
    });
    return { ack: true };
  } catch (err) {
    if (err instanceof PermanentError) return { deadLetter: err.message };
    if (message.delivery >= (def.maxDeliver ?? DEFAULT_MAX_DELIVER)) {
      return {
        deadLetter: `gave up after ${message.delivery} deliveries: ${(err as Error).message}`,
      };
    }
    const delay = err instanceof RetryLaterError ? err.delayMs : backoffMs(message.delivery);
    return { nak: delay, error: err };
  }
}
