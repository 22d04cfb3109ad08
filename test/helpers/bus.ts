// Handler tests on the runtime's own seam (model: Temporal's TestWorkflowEnvironment): a
// private nats-server with every stream provisioned, the context functions run with
// (real Postgres, real publisher), `dispatch` called as the consume loop calls it, and a
// wiretap that records what really went over the wire.

import { jetstreamManager } from "@nats-io/jetstream";
import type { Msg, Subscription } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import type { ConsumerDefinition } from "../../bus/consumer.ts";
import { dispatch, type Outcome } from "../../bus/dispatch.ts";
import { ensureSharedStreams } from "../../bus/streams.ts";
import { localUserToken } from "../../core/identity.ts";
import { silentLogger } from "../../core/log.ts";
import { type FunctionContext, functionContext } from "../../functions/context.ts";
import { startNats, type TestNats } from "./nats.ts";

export interface TestBus {
  nats: TestNats;
  nc: NatsConnection;
  /** the context the runtime would give the functions */
  ctx: FunctionContext;
  /** records what is published and emitted from now on */
  record(): Promise<Recording>;
  stop(): Promise<void>;
}

export async function startTestBus(sql: Sql): Promise<TestBus> {
  const nats = await startNats();
  const nc = await connectBus(nats.url, "test-bus");
  await ensureSharedStreams(await jetstreamManager(nc));
  const recordings = new Set<Recording>();
  return {
    nats,
    nc,
    ctx: functionContext({ nc, sql, log: silentLogger }),
    async record() {
      const r = new Recording(nc);
      recordings.add(r);
      // The subscription is on the server before anything is published after this.
      await nc.flush();
      return r;
    },
    async stop() {
      for (const r of recordings) r.stop();
      await nc.drain();
      await nats.stop();
    },
  };
}

export interface Wire {
  subject: string;
  data: unknown;
  /** the `Nats-Msg-Id` it was published with */
  msgID: string | undefined;
}

/**
 * Everything published on the connection while it records. JetStream publishes are
 * requests (they wait for the stream's ack), core NATS events are not: that is how the
 * two are told apart. Reading first flushes the connection, so that what was published
 * before the read has been received.
 */
export class Recording {
  private readonly wire: (Wire & { jetstream: boolean })[] = [];
  private readonly sub: Subscription;

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(">", {
      callback: (err, m: Msg) => {
        if (err || m.subject.startsWith("$") || m.subject.startsWith("_INBOX.")) return;
        let data: unknown;
        try {
          data = m.json();
        } catch {
          data = m.string();
        }
        this.wire.push({
          subject: withoutOwner(m.subject),
          data,
          msgID: m.headers?.get("Nats-Msg-Id") || undefined,
          jetstream: Boolean(m.reply),
        });
      },
    });
  }

  /** JetStream messages published so far (and not taken) */
  async published(): Promise<Wire[]> {
    await this.nc.flush();
    return this.wire.filter((w) => w.jetstream).map(({ jetstream: _, ...w }) => w);
  }

  /** core NATS events emitted so far */
  async emitted(): Promise<{ subject: string; data: unknown }[]> {
    await this.nc.flush();
    return this.wire.filter((w) => !w.jetstream).map((w) => ({ subject: w.subject, data: w.data }));
  }

  /** JetStream messages on `subject` since the last take, removed from `published` */
  async take<T = unknown>(
    subject: string | ((s: string) => boolean),
  ): Promise<{ data: T; msgID: string | undefined }[]> {
    await this.nc.flush();
    const match = typeof subject === "string" ? (s: string) => s === subject : subject;
    const out: { data: T; msgID: string | undefined }[] = [];
    for (let i = 0; i < this.wire.length; ) {
      const w = this.wire[i]!;
      if (w.jetstream && match(w.subject)) {
        out.push({ data: w.data as T, msgID: w.msgID });
        this.wire.splice(i, 1);
      } else i++;
    }
    return out;
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}

/**
 * A person's subject as the user running the tests sends it, written without its token
 * for short: `ti.done` is `ti.<me>.done`, `wf.submit` is `wf.submit.<me>`,
 * `bridge.heartbeat.dummy` is `bridge.heartbeat.dummy.<me>`. Other subjects as given.
 */
export function asMine(subject: string): string {
  const me = localUserToken();
  if (/^ti\.[a-z]+$/.test(subject)) return subject.replace("ti.", `ti.${me}.`);
  if (subject === "wf.submit") return `wf.submit.${me}`;
  if (/^bridge\.heartbeat\.[^.]+$/.test(subject)) return `${subject}.${me}`;
  if (/^launch\.[^.]+$/.test(subject)) return `${subject}.${me}`;
  if (/^ctl\.[^.]+\.kill$/.test(subject)) return subject.replace(".kill", `.${me}.kill`);
  return subject;
}

/** The other way: what the tests' user's subjects are called for short. */
export function withoutOwner(subject: string): string {
  const me = localUserToken();
  return subject
    .replace(new RegExp(`^ti\\.${me}\\.`), "ti.")
    .replace(new RegExp(`^(launch\\.[^.]+)\\.${me}$`), "$1")
    .replace(new RegExp(`^(ctl\\.[^.]+)\\.${me}\\.kill$`), "$1.kill")
    .replace(new RegExp(`^(bridge\\.heartbeat\\.[^.]+)\\.${me}$`), "$1");
}

/** The runtime's seam: `data` as the JSON bytes of a delivery, dispatched with `ctx`. */
export function dispatchJson<C extends FunctionContext>(
  def: ConsumerDefinition<never, C>,
  subject: string,
  data: unknown,
  ctx: C,
  delivery = 1,
): Promise<Outcome> {
  const bytes = new TextEncoder().encode(JSON.stringify(data));
  return dispatch(def, { subject: asMine(subject), data: bytes, delivery }, ctx);
}

/**
 * Dispatches and insists the message is acked: a handler error is thrown as it was
 * thrown, a dead letter as an error naming its reason.
 */
export async function deliver<C extends FunctionContext>(
  def: ConsumerDefinition<never, C>,
  subject: string,
  data: unknown,
  ctx: C,
  delivery = 1,
): Promise<void> {
  const outcome = await dispatchJson(def, subject, data, ctx, delivery);
  if ("ack" in outcome) return;
  if ("nak" in outcome) throw outcome.error;
  throw new Error(`dead-lettered: ${outcome.deadLetter}`);
}
