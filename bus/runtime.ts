import {
  type ConsumerInfo,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "../core/log.ts";
import type { ConsumerDefinition, Timer } from "./consumer.ts";
import { type BusContext, busContext } from "./context.ts";
import { Contracts } from "./contracts.ts";
import { backoffMs, contractFor, DEFAULT_MAX_DELIVER, dispatch, type Outcome } from "./dispatch.ts";
import {
  consumerAckPending,
  consumerPending,
  type DeliveryOutcome,
  deadLetters,
  handlerDuration,
  messagesFailed,
  messagesHandled,
  redeliveries,
  timerDuration,
  timerRuns,
} from "./metrics.ts";
import {
  type ConsumerSpec,
  ensureConsumer,
  ensureSharedStreams,
  type StreamOptions,
} from "./streams.ts";

/**
 * The consume loop: takes messages from a durable consumer, has `dispatch` decide each
 * one, and applies the outcome. Ack only after the handler returned (it commits before
 * returning). A dead letter is published to `dlq.<consumer>` with its reason, then the
 * message is plainly terminated (NATS 2.9 ignores a reason given to `term`). While a
 * handler runs, `working()` keeps its message from being redelivered. stop() drains: no
 * new messages are taken, in-flight ones finish and are settled.
 */

export interface RunningFunction {
  name: string;
  stop(): Promise<void>;
}

export interface ConsumerDeps {
  nc: NatsConnection;
  log: Logger;
  /** copies of each stream on a clustered NATS (streams.ts); unset: left as they are */
  streamReplicas?: number;
  /** bytes each shared stream may hold (streams.ts); unset: the default cap for new ones */
  streamMaxBytes?: number;
}

const decoder = new TextDecoder();
const MAX_DLQ_DATA = 64 * 1024;

/**
 * The stream and durable consumer a definition consumes from, as startConsumer
 * provisions them. Deployment manifests (KEDA's lag trigger) and health checks name the
 * same pair.
 */
export function consumerSpec(def: ConsumerDefinition<never, never>): ConsumerSpec {
  return {
    stream: def.stream.name,
    subjects: def.stream.subjects,
    durable: def.name,
    ackWaitMs: def.ackWaitMs ?? 30_000,
    maxDeliver: def.maxDeliver ?? DEFAULT_MAX_DELIVER,
    maxAckPending: def.maxAckPending ?? Math.max(100, (def.concurrency ?? 1) * 4),
    ...(def.filter ? { filterSubject: def.filter } : {}),
  };
}

/** Starts a consumer whose handler needs the bus context only (bridges, tests). */
export function startConsumer(
  def: ConsumerDefinition<never, BusContext>,
  deps: ConsumerDeps,
): Promise<RunningFunction>;
/** Starts a consumer whose context is the bus context extended (functions add `sql`). */
export function startConsumer<C extends BusContext>(
  def: ConsumerDefinition<never, C>,
  deps: ConsumerDeps,
  extend: (bus: BusContext) => C,
): Promise<RunningFunction>;
export async function startConsumer<C extends BusContext>(
  def: ConsumerDefinition<never, C>,
  deps: ConsumerDeps,
  extend?: (bus: BusContext) => C,
): Promise<RunningFunction> {
  const log = deps.log.child({ fn: def.name });
  const js = jetstream(deps.nc);
  const spec = consumerSpec(def as ConsumerDefinition<never, never>);
  const { ackWaitMs } = spec;
  const concurrency = def.concurrency ?? 1;
  const streamOptions = {
    ...(deps.streamReplicas ? { replicas: deps.streamReplicas } : {}),
    ...(deps.streamMaxBytes ? { maxBytes: deps.streamMaxBytes } : {}),
  };
  const jsm = await whenJetStreamAnswers(log, async () => {
    const manager = await jetstreamManager(deps.nc);
    if (def.personal) {
      // The streams it reports to and dead-letters into, where this connection may make
      // them (else the service has): a bridge may start before any function did.
      await ensureSharedStreams(manager, streamOptions).catch(() => {});
      await ensurePersonalConsumer(manager, spec, log, streamOptions);
    } else {
      await ensureSharedStreams(manager, streamOptions);
      await ensureConsumer(manager, spec, streamOptions);
    }
    return manager;
  });

  const abort = new AbortController();
  const bus = busContext(deps.nc, log, abort.signal);
  const base = (extend ? extend(bus) : bus) as C;
  const inFlight = new Set<Promise<void>>();

  /** Counts the outcome under the contract's subject pattern (bus/metrics.ts). */
  function measure(m: JsMsg, outcome: Outcome, startedAt: bigint): void {
    const subject = contractFor(def, m.subject)?.subject ?? "unknown";
    const labels = { consumer: def.name, subject };
    const kind: DeliveryOutcome =
      "ack" in outcome ? "ack" : "nak" in outcome ? "nak" : "dead_letter";
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    handlerDuration.observe({ ...labels, outcome: kind }, seconds);
    if (kind === "ack") messagesHandled.inc(labels);
    else if (kind === "nak") messagesFailed.inc(labels);
    if (m.info.deliveryCount > 1) redeliveries.inc(labels);
  }

  async function settle(m: JsMsg, outcome: Outcome, mlog: Logger): Promise<void> {
    if ("ack" in outcome) return m.ack();
    if ("nak" in outcome) {
      mlog.warn(
        { err: outcome.error, delay: outcome.nak },
        "handler failed, message will be redelivered",
      );
      return m.nak(outcome.nak);
    }
    const raw = decoder.decode(m.data);
    try {
      await bus.publish(
        Contracts.deadLetter,
        {
          v: 1,
          function: def.name,
          subject: m.subject,
          reason: outcome.deadLetter,
          data: raw.length > MAX_DLQ_DATA ? raw.slice(0, MAX_DLQ_DATA) : raw,
          deliveries: m.info.deliveryCount,
          at: new Date().toISOString(),
        },
        { stream: def.stream.name, seq: m.seq },
      );
    } catch (err) {
      if (def.personal) {
        // A person's bridge may not publish dead letters on an authenticated NATS: the
        // message is logged and dropped rather than retried for ever.
        mlog.error({ err, reason: outcome.deadLetter, data: raw.slice(0, 2000) }, "dropped");
        return m.term();
      }
      // Not recorded: do not drop the message, try again later.
      mlog.error({ err }, "dead letter could not be published");
      return m.nak(backoffMs(m.info.deliveryCount));
    }
    mlog.warn({ reason: outcome.deadLetter }, "message dead-lettered");
    deadLetters.inc({
      consumer: def.name,
      subject: contractFor(def, m.subject)?.subject ?? "unknown",
    });
    m.term();
  }

  async function handleOne(m: JsMsg): Promise<void> {
    const startedAt = process.hrtime.bigint();
    const delivery = m.info.deliveryCount;
    const mlog = log.child({ subject: m.subject, seq: m.seq, delivery });
    const keepAlive = setInterval(() => m.working(), Math.max(1000, ackWaitMs / 3));
    let outcome: Outcome;
    try {
      outcome = await dispatch(
        def,
        { subject: m.subject, data: m.data, delivery },
        { ...base, log: mlog, working: () => m.working() },
      );
    } finally {
      clearInterval(keepAlive);
    }
    measure(m, outcome, startedAt);
    await settle(m, outcome, mlog);
  }

  const consumer = await js.consumers.get(def.stream.name, def.name);
  const messages = await consumer.consume({ max_messages: Math.max(8, concurrency * 2) });
  const loop = (async () => {
    for await (const m of messages) {
      const p = handleOne(m).catch((err) => log.error({ err }, "unexpected runtime failure"));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
  })();

  const timers = (def.timers ?? []).map((timer) => runTimer(timer, base, abort.signal, def.name));
  const unmeasure = measureLag(jsm, spec);

  log.info({ stream: def.stream.name, concurrency }, "function started");
  return {
    name: def.name,
    async stop() {
      abort.abort();
      unmeasure();
      messages.stop();
      await loop.catch(() => {});
      await Promise.allSettled([...inFlight, ...timers]);
      log.info("function stopped");
    },
  };
}

/**
 * A person's consumer: made here where this connection may (a NATS without
 * permissions), else awaited until the service side has made it (the reap function
 * does on the bridge's first heartbeat, launch before the first batch).
 */
async function ensurePersonalConsumer(
  jsm: JetStreamManager,
  spec: ConsumerSpec,
  log: Logger,
  options: StreamOptions,
): Promise<void> {
  try {
    await ensureConsumer(jsm, spec, options);
    return;
  } catch (err) {
    log.info(
      { stream: spec.stream, consumer: spec.durable, reason: (err as Error).message },
      "waiting for the service to make this consumer",
    );
  }
  for (;;) {
    try {
      await jsm.consumers.info(spec.stream, spec.durable);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** How long start-up waits for JetStream to answer its provisioning (a startup probe's budget). */
export const PROVISION_PATIENCE_MS = 5 * 60_000;

/**
 * JetStream that does not answer yet (a cluster electing its leaders, a server coming
 * back, many replicas creating streams with copies at once) delays start-up instead of
 * failing it: a process started with the rest of a site must come up without a restart.
 * A refusal (a bad config, overlapping subjects) still fails at once.
 */
async function whenJetStreamAnswers<T>(log: Logger, provision: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + PROVISION_PATIENCE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await provision();
    } catch (err) {
      if (!isNotAnswering(err) || Date.now() > giveUpAt) throw err;
      log.warn({ err, attempt }, "JetStream does not answer yet; provisioning again");
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }
}

function isNotAnswering(err: unknown): boolean {
  const e = err as { name?: string; message?: string; code?: unknown };
  return (
    e.name === "TimeoutError" ||
    e.name === "NoRespondersError" ||
    e.code === 503 ||
    /timeout|no responders|jetstream not (enabled|available)|insufficient resources|no suitable peers|leader/i.test(
      e.message ?? "",
    )
  );
}

/**
 * Reports the consumer's lag at each scrape (num_pending, num_ack_pending: KEDA's lag is
 * their sum), from one consumer-info request shared by both gauges. Returns the undo.
 */
function measureLag(jsm: JetStreamManager, spec: ConsumerSpec): () => void {
  const labels = { stream: spec.stream, consumer: spec.durable };
  let cached: { at: number; info: Promise<ConsumerInfo> } | undefined;
  const info = () => {
    if (!cached || Date.now() - cached.at > LAG_CACHE_MS) {
      const asked = jsm.consumers.info(spec.stream, spec.durable);
      asked.catch(() => {});
      cached = { at: Date.now(), info: within(asked, LAG_TIMEOUT_MS) };
    }
    return cached.info;
  };
  const removers = [
    consumerPending.add(async () => [{ labels, value: (await info()).num_pending }]),
    consumerAckPending.add(async () => [{ labels, value: (await info()).num_ack_pending }]),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}

/** A scrape asks NATS once per consumer, and gives up on it after this long. */
const LAG_CACHE_MS = 1000;
const LAG_TIMEOUT_MS = 2000;

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function runTimer<C extends BusContext>(
  timer: Timer<C>,
  ctx: C,
  signal: AbortSignal,
  consumer: string,
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
    const end = timerDuration.startTimer({ consumer, timer: timer.name });
    try {
      await timer.run({ ...ctx, log: tlog });
      timerRuns.inc({ consumer, timer: timer.name, outcome: "ok" });
    } catch (err) {
      timerRuns.inc({ consumer, timer: timer.name, outcome: "error" });
      tlog.error({ err }, "timer failed");
    } finally {
      end();
    }
  }
}
