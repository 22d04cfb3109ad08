import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { z } from "zod";
import { connectionToken } from "./connect.ts";
import type { EventContract, JetStreamContract, KeyArgs } from "./contract.ts";

/**
 * Publishing by contract: the message is validated against its subject's schema (so a
 * producer cannot emit what its consumer would dead-letter), its concrete subject and
 * its message id come from the contract's rules, never from the caller.
 */

const encoder = new TextEncoder();

export class PublishValidationError extends Error {
  override name = "PublishValidationError";
}

export interface Encoded {
  subject: string;
  payload: Uint8Array;
  msgID: string | undefined;
}

/** A message of `contract`, validated and addressed, ready for JetStream. */
export function encode<S extends z.ZodType, K>(
  contract: JetStreamContract<string, S, K>,
  data: z.input<S>,
  ...key: KeyArgs<K>
): Encoded {
  return encodeFor(undefined, contract, data, ...key);
}

/** The same, on a person's subject: the one `owner` (a user token) names. */
export function encodeFor<S extends z.ZodType, K>(
  owner: string | undefined,
  contract: JetStreamContract<string, S, K>,
  data: z.input<S>,
  ...key: KeyArgs<K>
): Encoded {
  const parsed = contract.schema.safeParse(data);
  if (!parsed.success) {
    throw new PublishValidationError(
      `refusing to publish an invalid ${contract.subject}: ${parsed.error.message}`,
    );
  }
  const message = parsed.data as z.output<S>;
  const k = key[0] as K;
  let subject: string;
  try {
    subject = contract.address ? contract.address(message, k, owner) : contract.subject;
  } catch (err) {
    throw new PublishValidationError((err as Error).message);
  }
  if (subject.includes("*") || subject.includes(">")) {
    throw new PublishValidationError(`${contract.subject} needs an address rule`);
  }
  return {
    subject,
    payload: encoder.encode(JSON.stringify(message)),
    msgID: contract.msgId?.(message, k),
  };
}

export interface Publisher {
  /**
   * JetStream publish, validated; a re-publish inside the dedupe window is a no-op. On a
   * person's subject, under the publisher's own token.
   */
  publish<S extends z.ZodType, K>(
    contract: JetStreamContract<string, S, K>,
    data: z.input<S>,
    ...key: KeyArgs<K>
  ): Promise<void>;
  /** The same on a person's subject for `owner` (the service publishing for a person). */
  publishFor<S extends z.ZodType, K>(
    owner: string,
    contract: JetStreamContract<string, S, K>,
    data: z.input<S>,
    ...key: KeyArgs<K>
  ): Promise<void>;
  /**
   * Core NATS publish of an event nobody must receive. Not validated at run time: events
   * are built by our own code from committed rows, typed by their contract, and emitting
   * must stay cheap (task events carry thousands of ids).
   */
  emit<S extends z.ZodType, K>(
    contract: EventContract<string, S, K>,
    data: z.input<S>,
    ...key: KeyArgs<K>
  ): void;
}

/** A publisher over a connection; `self` is the token it publishes under (its own). */
export function createPublisher(
  nc: NatsConnection,
  js: JetStreamClient,
  self: string = connectionToken(nc),
): Publisher {
  const publishFor: Publisher["publishFor"] = async (owner, contract, data, ...key) => {
    const m = encodeFor(owner, contract, data, ...key);
    await js.publish(m.subject, m.payload, m.msgID ? { msgID: m.msgID } : undefined);
  };
  return {
    publish: (contract, data, ...key) => publishFor(self, contract, data, ...key),
    publishFor,
    emit(contract, data, ...key) {
      const subject = contract.address(data as never, key[0] as never);
      nc.publish(subject, encoder.encode(JSON.stringify(data)));
    },
  };
}
