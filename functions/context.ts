import { jetstreamManager } from "@nats-io/jetstream";
import type { Sql } from "postgres";
import type { NatsConnection } from "../bus/connect.ts";
import type { ConsumerDefinition, ConsumerOptions } from "../bus/consumer.ts";
import { type BusContext, busContext, type Delivery } from "../bus/context.ts";
import type { Incoming } from "../bus/contract.ts";
import {
  type ConsumedBy,
  consumedBy,
  type FunctionName,
  functionStream,
} from "../bus/contracts.ts";
import { PersonProvisioner } from "../bus/person-streams.ts";
import { type RunningFunction, startConsumer } from "../bus/runtime.ts";
import type { Logger } from "../core/log.ts";

/**
 * What a function touches the world through: the bus, and Postgres. Only functions get
 * `sql` (bridges get the bus context alone). A handler is `(msg, ctx)`: no global pool,
 * no environment inside it.
 */
export interface FunctionContext extends BusContext {
  sql: Sql;
  /** makes a person's streams, bucket and per-cluster consumers (once per process) */
  provision: PersonProvisioner;
}

export type HandlerContext = FunctionContext & Delivery;

/** A function's consumer: its subjects are those the contracts say it consumes. */
export type FunctionDefinition<M = unknown> = ConsumerDefinition<M, FunctionContext>;

/**
 * Defines a function by name: which subjects it consumes, from which stream, follows
 * from bus/contracts.ts, and the message its handler gets is typed accordingly.
 */
export function defineFunction<const F extends FunctionName>(
  spec: {
    name: F;
    handle: (msg: Incoming<ConsumedBy<F>>, ctx: HandlerContext) => Promise<void>;
  } & ConsumerOptions<FunctionContext>,
): FunctionDefinition<Incoming<ConsumedBy<F>>> & { name: F } {
  return { ...spec, contracts: consumedBy(spec.name), stream: functionStream(spec.name) };
}

export interface FunctionDeps {
  nc: NatsConnection;
  sql: Sql;
  log: Logger;
  /** copies of each stream on a clustered NATS (bus/streams.ts); unset: left as they are */
  streamReplicas?: number | undefined;
  /** bytes each shared stream may hold; unset: the default cap (core/limits.ts) */
  streamMaxBytes?: number | undefined;
  /** bytes each person's streams and DAG bucket may hold; unset: the default cap */
  personMaxBytes?: number | undefined;
}

/** One provisioner per connection: every function of a process shares what it made. */
const provisioners = new WeakMap<NatsConnection, PersonProvisioner>();

function provisionerOf(deps: FunctionDeps): PersonProvisioner {
  let p = provisioners.get(deps.nc);
  if (!p) {
    p = new PersonProvisioner(deps.nc, () => jetstreamManager(deps.nc), {
      ...(deps.streamReplicas ? { replicas: deps.streamReplicas } : {}),
      ...(deps.personMaxBytes ? { maxBytes: deps.personMaxBytes } : {}),
    });
    provisioners.set(deps.nc, p);
  }
  return p;
}

/** The context functions run with, as the runtime builds it (also what tests use). */
export function functionContext(deps: FunctionDeps, signal?: AbortSignal): FunctionContext {
  return {
    ...busContext(deps.nc, deps.log, signal),
    sql: deps.sql,
    provision: provisionerOf(deps),
  };
}

export function startFunction(
  def: FunctionDefinition<never>,
  deps: FunctionDeps,
): Promise<RunningFunction> {
  const provision = provisionerOf(deps);
  const { streamMaxBytes, streamReplicas } = deps;
  return startConsumer(
    def,
    {
      nc: deps.nc,
      log: deps.log,
      ...(streamReplicas ? { streamReplicas } : {}),
      ...(streamMaxBytes ? { streamMaxBytes } : {}),
    },
    (bus) => ({ ...bus, sql: deps.sql, provision }),
  );
}
