// A HandlerContext for calling a function's handle() directly (model: Temporal's
// MockActivityEnvironment): real sql, publish and emit recorded in arrays, no NATS.
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { encodeMessage } from "../../bus/publish.ts";
import type { HandlerContext } from "../../bus/runtime.ts";
import { silentLogger } from "../../core/log.ts";

export interface Published {
  subject: string;
  data: unknown;
  msgID: string | undefined;
}

export interface FakeContext extends HandlerContext {
  published: Published[];
  emitted: { subject: string; data: unknown }[];
  /** published messages on `subject` since the last take, removed from `published` */
  take<T = unknown>(
    subject: string | ((s: string) => boolean),
  ): { data: T; msgID: string | undefined }[];
}

const unavailable = new Proxy(
  {},
  {
    get() {
      throw new Error("the fake context has no NATS connection");
    },
  },
);

export function fakeContext(sql: Sql, options: { delivery?: number } = {}): FakeContext {
  const published: Published[] = [];
  const emitted: { subject: string; data: unknown }[] = [];
  return {
    sql,
    log: silentLogger,
    nc: unavailable as NatsConnection,
    js: unavailable as JetStreamClient,
    async publish(subject, data, opts) {
      // Validated exactly as the real publisher does.
      encodeMessage(subject, data);
      published.push({ subject, data, msgID: opts?.msgID });
    },
    emit(subject, data) {
      emitted.push({ subject, data });
    },
    working() {},
    signal: new AbortController().signal,
    delivery: options.delivery ?? 1,
    published,
    emitted,
    take<T>(subject: string | ((s: string) => boolean)) {
      const match = typeof subject === "string" ? (s: string) => s === subject : subject;
      const out: { data: T; msgID: string | undefined }[] = [];
      for (let i = 0; i < published.length; ) {
        const p = published[i]!;
        if (match(p.subject)) {
          out.push({ data: p.data as T, msgID: p.msgID });
          published.splice(i, 1);
        } else i++;
      }
      return out;
    },
  };
}

/**
 * Calls a function's handler as the runtime would: the payload parsed with the schema of
 * the subject (defaults applied, a bad payload throws), then handle(msg, ctx).
 */
export async function deliver(
  fn: {
    schemas: Record<string, { parse(data: unknown): unknown }>;
    handle(msg: never, ctx: HandlerContext): Promise<void>;
  },
  subject: string,
  data: unknown,
  ctx: HandlerContext,
): Promise<void> {
  const schema = fn.schemas[subject];
  if (!schema) throw new Error(`${subject} is not a subject of this function`);
  const msg = { subject, actualSubject: subject, data: schema.parse(data) };
  await (fn.handle as (m: unknown, c: HandlerContext) => Promise<void>)(msg, ctx);
}
