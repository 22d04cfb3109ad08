import { type JetStreamClient, type JsMsg, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { z } from "zod";
import type { Logger } from "../core/log.ts";
import { PermanentError, RetryLaterError } from "./errors.ts";
import { createPublisher, type Publisher } from "./publish.ts";
import { type ConsumerSpec, ensureConsumer, ensureSharedStreams } from "./streams.ts";
import { dlqSubject, streamNameFor, subjectMatches } from "./subjects.ts";

/**
 * The consume runtime every function uses: validate → handle → ack after the handler
 * returned (it commits before returning). Invalid payloads and PermanentErrors are
 * dead-lettered with their reason and terminated; other errors are redelivered with a
 * backoff by delivery count, up to max_deliver, after which they are dead-lettered too.
 * `working()` keeps a long handler's message from being redelivered. stop() drains:
 * no new messages are taken, in-flight ones finish and are acked.
 */

export interface HandlerContext {
  sql: Sql;
  log: Logger;
  nc: NatsConnection;
  js: JetStreamClient;
  publish: Publisher["publish"];
  emit: Publisher["emit"];
  /** tells NATS the message is still being worked on */
  working(): void;
  signal: AbortSignal;
  /** 1 on the first delivery */
  delivery: number;
}

export type TimerContext = Omit<HandlerContext, "working" | "delivery">;

type Schemas = Record<string, z.ZodType>;
export type Incoming<S extends Schemas> = {
  [K in keyof S & string]: { subject: K; actualSubject: string; data: z.infer<S[K]> };
}[keyof S & string];

export interface FunctionDefinition<S extends Schemas = Schemas> {
  name: string;
  /** subjects consumed (keys, NATS patterns allowed) and the schema of each */
  schemas: S;
  handle(msg: Incoming<S>, ctx: HandlerContext): Promise<void>;
  /** messages handled at once by one replica */
  concurrency?: number;
  ackWaitMs?: number;
  maxDeliver?: number;
  /** consume from a shared stream instead of the function's own (bridges) */
  stream?: { name: string; subjects: readonly string[]; filterSubject: string };
  /** periodic sweeps run by every replica (they must be safe to run concurrently) */
  timers?: { name: string; everyMs: number; run(ctx: TimerContext): Promise<void> }[];
}

export function defineFunction<S extends Schemas>(
  def: FunctionDefinition<S>,
): FunctionDefinition<S> {
  return def;
}

export interface RunningFunction {
  name: string;
  stop(): Promise<void>;
}

export interface RuntimeDeps {
  nc: NatsConnection;
  /** absent in processes that must not reach the database (bridges) */
  sql?: Sql;
  log: Logger;
}

/** Stands in for `sql` where there is no database: any use is a programming error. */
const noDatabase = new Proxy(() => {}, {
  get() {
    throw new Error("this process has no database connection");
  },
  apply() {
    throw new Error("this process has no database connection");
  },
}) as unknown as Sql;

const decoder = new TextDecoder();
const MAX_DLQ_DATA = 64 * 1024;

export function backoffMs(delivery: number): number {
  const base = Math.min(30_000, 200 * 2 ** Math.max(0, delivery - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export async function startFunction<S extends Schemas>(
  def: FunctionDefinition<S>,
  deps: RuntimeDeps,
): Promise<RunningFunction> {
  const log = deps.log.child({ fn: def.name });
  const js = jetstream(deps.nc);
  const jsm = await jetstreamManager(deps.nc);
  const publisher = createPublisher(deps.nc, js);
  const ackWaitMs = def.ackWaitMs ?? 30_000;
  const maxDeliver = def.maxDeliver ?? 10;
  const concurrency = def.concurrency ?? 1;
  const spec: ConsumerSpec = {
    stream: def.stream?.name ?? streamNameFor(def.name),
    subjects: def.stream?.subjects ?? Object.keys(def.schemas),
    durable: def.name,
    ackWaitMs,
    maxDeliver,
    maxAckPending: Math.max(100, concurrency * 4),
    ...(def.stream ? { filterSubject: def.stream.filterSubject } : {}),
  };
  await ensureSharedStreams(jsm);
  await ensureConsumer(jsm, spec);

  const abort = new AbortController();
  const inFlight = new Set<Promise<void>>();
  const baseCtx = {
    sql: deps.sql ?? noDatabase,
    nc: deps.nc,
    js,
    publish: publisher.publish,
    emit: publisher.emit,
    signal: abort.signal,
  };

  async function deadLetter(m: JsMsg, reason: string, mlog: Logger): Promise<void> {
    const raw = decoder.decode(m.data);
    const letter = {
      v: 1 as const,
      function: def.name,
      subject: m.subject,
      reason,
      data: raw.length > MAX_DLQ_DATA ? raw.slice(0, MAX_DLQ_DATA) : raw,
      deliveries: m.info.deliveryCount,
      at: new Date().toISOString(),
    };
    try {
      await publisher.publish(dlqSubject(def.name), letter, { msgID: `${spec.stream}-${m.seq}` });
    } catch (err) {
      // Not recorded: do not drop the message, try again later.
      mlog.error({ err }, "dead letter could not be published");
      m.nak(backoffMs(m.info.deliveryCount));
      return;
    }
    mlog.warn({ reason }, "message dead-lettered");
    m.term();
  }

  async function process(m: JsMsg): Promise<void> {
    const delivery = m.info.deliveryCount;
    const mlog = log.child({ subject: m.subject, seq: m.seq, delivery });
    const key = Object.keys(def.schemas).find((pattern) => subjectMatches(pattern, m.subject));
    let data: unknown;
    try {
      data = JSON.parse(decoder.decode(m.data));
    } catch (err) {
      return deadLetter(m, `payload is not JSON: ${(err as Error).message}`, mlog);
    }
    const schema = key === undefined ? undefined : def.schemas[key];
    if (key === undefined || !schema)
      return deadLetter(m, `no handler for subject ${m.subject}`, mlog);
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      return deadLetter(m, `invalid ${key} message: ${z.prettifyError(parsed.error)}`, mlog);
    }
    const keepAlive = setInterval(() => m.working(), Math.max(1000, ackWaitMs / 3));
    try {
      const incoming = { subject: key, actualSubject: m.subject, data: parsed.data } as Incoming<S>;
      await def.handle(incoming, {
        ...baseCtx,
        log: mlog,
        working: () => m.working(),
        delivery,
      });
      m.ack();
    } catch (err) {
      if (err instanceof PermanentError) return deadLetter(m, err.message, mlog);
      if (delivery >= maxDeliver) {
        return deadLetter(
          m,
          `gave up after ${delivery} deliveries: ${(err as Error).message}`,
          mlog,
        );
      }
      const delay = err instanceof RetryLaterError ? err.delayMs : backoffMs(delivery);
      mlog.warn({ err, delay }, "handler failed, message will be redelivered");
      m.nak(delay);
    } finally {
      clearInterval(keepAlive);
    }
  }

  const consumer = await js.consumers.get(spec.stream, spec.durable);
  const messages = await consumer.consume({ max_messages: Math.max(8, concurrency * 2) });
  const loop = (async () => {
    for await (const m of messages) {
      const p = process(m).catch((err) => log.error({ err }, "unexpected runtime failure"));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
  })();

  const timers = (def.timers ?? []).map((timer) =>
    runTimer(timer, { ...baseCtx, log }, abort.signal),
  );

  log.info({ stream: spec.stream, concurrency }, "function started");
  return {
    name: def.name,
    async stop() {
      abort.abort();
      messages.stop();
      await loop.catch(() => {});
      await Promise.allSettled([...inFlight, ...timers]);
      log.info("function stopped");
    },
  };
}

async function runTimer(
  timer: { name: string; everyMs: number; run(ctx: TimerContext): Promise<void> },
  ctx: TimerContext,
  signal: AbortSignal,
): Promise<void> {
  const tlog = ctx.log.child({ timer: timer.name });
  while (!signal.aborted) {
    // Jitter keeps replicas from sweeping in lockstep.
    const wait = timer.everyMs * (0.8 + Math.random() * 0.4);
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      // One listener per wait, removed when the wait ends: a timer ticks for days.
      const t = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, wait);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    if (signal.aborted) break;
    try {
      await timer.run({ ...ctx, log: tlog });
    } catch (err) {
      tlog.error({ err }, "timer failed");
    }
  }
}
