import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { FunctionSubjects, SharedStreams, streamNameFor } from "./subjects.ts";

/**
 * Stream and consumer provisioning for NATS 2.9: one stream per consuming party holding
 * exactly its subjects (streams cannot share subjects), one durable pull consumer per
 * stream shared by all replicas of that party (one filter at most). Idempotent: an
 * existing stream or consumer is updated to the wanted config, never recreated, so
 * messages already stored survive a redeploy.
 */

export interface ConsumerSpec {
  stream: string;
  subjects: readonly string[];
  durable: string;
  /** only for streams that serve several consumers (e.g. one per cluster) */
  filterSubject?: string;
  ackWaitMs: number;
  maxDeliver: number;
  maxAckPending?: number;
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: number; api_error?: { err_code?: number } }).api_error?.err_code;
  return code === 10059 || code === 10014 || /not found/i.test(String((err as Error).message));
}

export async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subjects: readonly string[],
  options: { retention?: RetentionPolicy; maxAgeMs?: number } = {},
): Promise<void> {
  const wanted: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: [...subjects],
    retention: options.retention ?? RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_age: options.maxAgeMs ? nanos(options.maxAgeMs) : 0,
    // Publishes carry deterministic ids: a re-publish inside this window is stored once.
    duplicate_window: nanos(120_000),
  };
  try {
    const info = await jsm.streams.info(name);
    const same =
      info.config.subjects.join(",") === wanted.subjects?.join(",") &&
      info.config.max_age === wanted.max_age;
    if (!same) await jsm.streams.update(name, { ...info.config, ...wanted });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(wanted);
    } catch (addErr) {
      // A replica starting at the same moment created it first.
      if (!/already in use|already exists/i.test(String((addErr as Error).message))) throw addErr;
    }
  }
}

export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  await ensureStream(jsm, spec.stream, spec.subjects);
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending ?? 1000,
    ...(spec.filterSubject ? { filter_subject: spec.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    await jsm.consumers.update(spec.stream, spec.durable, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(spec.stream, config);
    } catch (addErr) {
      if (!/already exists|already in use/i.test(String((addErr as Error).message))) throw addErr;
    }
  }
}

/** Streams every installation has, whoever starts first creates them. */
export async function ensureSharedStreams(jsm: JetStreamManager): Promise<void> {
  for (const [fn, subjects] of Object.entries(FunctionSubjects)) {
    await ensureStream(jsm, streamNameFor(fn), subjects);
  }
  await ensureStream(jsm, SharedStreams.launch.name, SharedStreams.launch.subjects);
  await ensureStream(jsm, SharedStreams.ctl.name, SharedStreams.ctl.subjects);
  // Dead letters are kept for two weeks for inspection, not consumed as work.
  await ensureStream(jsm, SharedStreams.dlq.name, SharedStreams.dlq.subjects, {
    retention: RetentionPolicy.Limits,
    maxAgeMs: 14 * 24 * 3600 * 1000,
  });
}
