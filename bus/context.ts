import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../core/log.ts";
import { connectionToken } from "./connect.ts";
import { createPublisher, type Publisher } from "./publish.ts";

/**
 * What a consumer of the bus touches the world through: NATS only. Bridges are given
 * exactly this (they run where the database may be out of reach); functions get it
 * with `sql` added (functions/context.ts), so a bridge that reaches for the database
 * does not compile.
 */
export interface BusContext {
  /** bound to the consumer, and to the message while one is handled */
  log: Logger;
  nc: NatsConnection;
  /** the user token this process publishes under (its credentials, or its Unix user) */
  self: string;
  publish: Publisher["publish"];
  publishFor: Publisher["publishFor"];
  emit: Publisher["emit"];
  /** aborted when the consumer stops */
  signal: AbortSignal;
}

/** What a handler has on top of its context while it handles one message. */
export interface Delivery {
  /** tells NATS the message is still being worked on */
  working(): void;
  /** 1 on the first delivery */
  delivery: number;
}

/** The context every consumer of a process shares: one publisher over its connection. */
export function busContext(
  nc: NatsConnection,
  log: Logger,
  signal: AbortSignal = new AbortController().signal,
): BusContext {
  const self = connectionToken(nc);
  const publisher = createPublisher(nc, jetstream(nc), self);
  return {
    log,
    nc,
    self,
    publish: publisher.publish,
    publishFor: publisher.publishFor,
    emit: publisher.emit,
    signal,
  };
}
