import type { z } from "zod";
import { isToken } from "../core/identity.ts";

/**
 * The kinds of contract the bus has, and the few helpers every contract table uses.
 * A contract binds a subject to its schema and to everything derived from the subject:
 * where it is stored and who consumes it (JetStream), how a message's concrete subject
 * and message id are built, what a request is answered with (request/reply). The tables
 * themselves are bus/contracts.ts (JetStream), bus/events.ts (core NATS events) and
 * bus/commands.ts, bus/queries.ts (request/reply).
 */

/** A JetStream stream as provisioned (bus/streams.ts). */
export interface StreamSpec {
  name: string;
  subjects: readonly string[];
  /** kept this long for inspection, not consumed as work (dead letters) */
  keepMs?: number;
}

/**
 * A JetStream subject. `K` is what a publisher passes besides the message when the
 * message alone does not say its concrete subject or its message id (e.g. the cluster of
 * a kill order); `undefined` when it does.
 *
 * `address` and `msgId` are methods on purpose: method parameters are compared
 * bivariantly, so a contract with a precise schema still fits where any contract goes.
 */
export interface JetStreamContract<
  Subject extends string = string,
  S extends z.ZodType = z.ZodType,
  // biome-ignore lint/suspicious/noExplicitAny: the widest key, for lists of contracts
  K = any,
  Fn extends string = string,
> {
  kind: "jetstream";
  /** the subject, or the pattern of its subjects (`*` stands for one token) */
  subject: Subject;
  schema: S;
  /** the function that consumes it, from a stream of its own (one stream per function) */
  consumer?: Fn;
  /** a stream not owned by one function or person (dead letters) */
  stream?: StreamSpec;
  /** the stream of a person's subjects (per-cluster consumers: bridges) */
  personStream?(owner: string): string;
  /** the durable consumer of one cluster on `personStream` */
  durable?(cluster: string): string;
  /**
   * A person's subject: the index of the token naming them (bus/permissions.ts lets a
   * person publish only under their own token, so a consumer knows who sent it).
   */
  ownerAt?: number;
  /**
   * The concrete subject of a message (required when `subject` is a pattern). `owner`
   * is the person the message is for or from: the publisher's own token, or the one a
   * function names when it publishes for a workflow's owner.
   */
  address?(message: z.output<S>, key: K, owner: string | undefined): string;
  /**
   * The `Nats-Msg-Id` of a message: the same for a re-publish of the same work, never
   * for new work. Built from what never repeats (instance, batch or run ids, a task's
   * lifetime queue count), never from attempts, which a resume takes back to 0.
   * Undefined: not deduplicated.
   */
  msgId?(message: z.output<S>, key: K): string | undefined;
}

/** Declares a JetStream subject, keeping its subject and consumer as literal types. */
export function jetstream<
  const Subject extends string,
  S extends z.ZodType,
  K = undefined,
  const Fn extends string = never,
>(
  contract: Omit<JetStreamContract<Subject, S, K, Fn>, "kind">,
): JetStreamContract<Subject, S, K, Fn> {
  return { kind: "jetstream", ...contract };
}

/**
 * A core NATS event: best-effort, for whoever listens (live progress, the answer to a
 * submitter). Not stored; a missed one is made up for by asking (query.*).
 */
export interface EventContract<
  Subject extends string = string,
  S extends z.ZodType = z.ZodType,
  // biome-ignore lint/suspicious/noExplicitAny: the widest key, for lists of contracts
  K = any,
> {
  kind: "event";
  /** the pattern of its subjects */
  subject: Subject;
  schema: S;
  address(message: z.output<S>, key: K): string;
}

/** The owner token a person's subject carries (an address rule's `owner`), checked. */
export function ownerToken(subject: string, owner: string | undefined): string {
  if (owner === undefined || !isToken(owner)) {
    throw new Error(`${subject} needs the owner's user token, not ${JSON.stringify(owner)}`);
  }
  return owner;
}

/** The owner token of a concrete subject of a person's contract. */
export function ownerOf(contract: { subject: string; ownerAt?: number }, subject: string): string {
  if (contract.ownerAt === undefined) throw new Error(`${contract.subject} has no owner token`);
  const token = subject.split(".")[contract.ownerAt];
  if (token === undefined) throw new Error(`${subject} does not match ${contract.subject}`);
  return token;
}

export function event<const Subject extends string, S extends z.ZodType, K = undefined>(
  contract: Omit<EventContract<Subject, S, K>, "kind">,
): EventContract<Subject, S, K> {
  return { kind: "event", ...contract };
}

/** A request/reply endpoint: its request schema and (as a type) its answer. */
export interface EndpointContract<
  Subject extends string = string,
  S extends z.ZodType = z.ZodType,
  A = unknown,
> {
  kind: "endpoint";
  subject: Subject;
  request: S;
  /** a type marker only: nothing is stored here at run time */
  answer?: A;
}

/** Names an endpoint's answer type: `answers<StopAnswer>()`. */
export const answers = <A>(): { answer?: A } => ({});

export function endpoint<const Subject extends string, S extends z.ZodType, A>(
  contract: { subject: Subject; request: S } & { answer?: A },
): EndpointContract<Subject, S, A> {
  return { kind: "endpoint", subject: contract.subject, request: contract.request };
}

/**
 * A request/reply service: endpoints under one subject pattern, served in one queue
 * group so that any number of replicas share the load (bus/serve.ts).
 */
export interface ServiceContract<
  E extends Record<string, EndpointContract> = Record<string, EndpointContract>,
> {
  name: string;
  /** the pattern every endpoint's subject matches */
  subjects: string;
  queue: string;
  endpoints: E;
}

export function service<const E extends Record<string, EndpointContract>>(
  contract: ServiceContract<E>,
): ServiceContract<E> {
  for (const e of Object.values(contract.endpoints)) {
    if (!subjectMatches(contract.subjects, e.subject)) {
      throw new Error(`${e.subject} is outside ${contract.name}'s ${contract.subjects}`);
    }
  }
  return contract;
}

/** Arguments after the message: the key, or nothing when the contract needs none. */
export type KeyArgs<K> = [K] extends [undefined] ? [] : [key: K];

/** What a handler receives for a message of contract `C` (a union over a union). */
export type Incoming<C> =
  // biome-ignore lint/suspicious/noExplicitAny: any key, any consumer
  C extends JetStreamContract<infer Subject, infer S, any, any>
    ? { subject: Subject; actualSubject: string; data: z.output<S> }
    : never;

/** True when a concrete subject matches a NATS pattern (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** The pattern with its one `*` replaced by a token (e.g. a cluster). */
export function fillToken(pattern: string, token: string): string {
  if (pattern.split("*").length !== 2) throw new Error(`${pattern} has not exactly one '*'`);
  return pattern.replace("*", token);
}
