import type { BusContext, Delivery } from "./context.ts";
import type { Incoming, JetStreamContract, StreamSpec } from "./contract.ts";
import { streamNameFor } from "./contracts.ts";
import { BRIDGE_CONSUMER } from "./person-streams.ts";

/**
 * A durable JetStream consumer: which contracts it reads, from which stream, and the
 * handler. `C` is the context its handler and timers get: the bus context for bridges,
 * the bus context with `sql` for functions. Handlers are properties (not methods) so
 * that TypeScript checks their context strictly: a definition that needs `sql` cannot
 * be started where only the bus context exists.
 */
export interface ConsumerDefinition<M = unknown, C extends BusContext = BusContext> {
  /** the durable name, shared by every replica */
  name: string;
  contracts: readonly JetStreamContract[];
  stream: StreamSpec;
  /** only on streams that serve several consumers (one per cluster) */
  filter?: string;
  /**
   * A person's consumer (a bridge's): made by the service side, which a person may not
   * do; the consumer makes it only where it may (a NATS without permissions), and
   * otherwise waits until it exists.
   */
  personal?: boolean;
  maxAckPending?: number;
  handle: (msg: M, ctx: C & Delivery) => Promise<void>;
  /** messages handled at once by one replica */
  concurrency?: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  /** periodic sweeps run by every replica (they must be safe to run concurrently) */
  timers?: readonly Timer<C>[];
}

export interface Timer<C> {
  name: string;
  everyMs: number;
  run: (ctx: C) => Promise<void>;
}

/** Options every consumer may set. */
export type ConsumerOptions<C extends BusContext> = Pick<
  ConsumerDefinition<unknown, C>,
  "concurrency" | "ackWaitMs" | "maxDeliver" | "timers"
>;

/**
 * A consumer of the given contracts with the bus context only, in a stream of its own
 * named after it unless one is given.
 */
export function defineConsumer<const Cs extends readonly JetStreamContract[]>(
  spec: {
    name: string;
    contracts: Cs;
    stream?: StreamSpec;
    filter?: string;
    handle: (msg: Incoming<Cs[number]>, ctx: BusContext & Delivery) => Promise<void>;
  } & ConsumerOptions<BusContext>,
): ConsumerDefinition<Incoming<Cs[number]>, BusContext> {
  return {
    ...spec,
    stream: spec.stream ?? {
      name: streamNameFor(spec.name),
      subjects: spec.contracts.map((c) => c.subject),
    },
  };
}

/**
 * One person's consumer for one cluster, on that person's stream (launch batches, or
 * the orders for their bridge): its stream, durable and filter come from the contracts
 * (one, or several sharing a stream and a durable), its settings are the same whoever
 * makes it (BRIDGE_CONSUMER).
 */
export function clusterConsumer<const C extends JetStreamContract>(
  contracts: C | readonly C[],
  cluster: string,
  owner: string,
  spec: {
    handle: (msg: Incoming<C>, ctx: BusContext & Delivery) => Promise<void>;
  } & Pick<ConsumerOptions<BusContext>, "concurrency" | "timers" | "ackWaitMs">,
): ConsumerDefinition<Incoming<C>, BusContext> {
  const list: readonly C[] = Array.isArray(contracts) ? contracts : [contracts as C];
  const first = list[0];
  if (!first?.personStream || !first.durable || first.ownerAt === undefined) {
    throw new Error(`${first?.subject ?? "nothing"} is not consumed per person and cluster`);
  }
  for (const c of list) {
    if (c.personStream?.(owner) !== first.personStream(owner) || c.ownerAt !== first.ownerAt) {
      throw new Error(`${c.subject} is not on the stream of ${first.subject}`);
    }
  }
  // The stream's subjects: the contracts' patterns with the owner's token, a token where
  // they differ (`ctl.*.<owner>.kill` and `.limit` → `ctl.*.<owner>.*`).
  const patterns = list.map((c) => c.subject.split("."));
  const ownSubject = patterns[0]!
    .map((token, i) =>
      i === first.ownerAt ? owner : patterns.every((p) => p[i] === token) ? token : "*",
    )
    .join(".");
  const clusterAt = patterns[0]!.indexOf("*");
  return {
    ...BRIDGE_CONSUMER,
    ...spec,
    name: first.durable(cluster),
    contracts: list,
    stream: { name: first.personStream(owner), subjects: [ownSubject] },
    filter: ownSubject
      .split(".")
      .map((token, i) => (i === clusterAt ? cluster : token))
      .join("."),
    personal: true,
  };
}
