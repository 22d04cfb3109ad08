import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { CAPS } from "../core/limits.ts";
import type { StreamSpec } from "./contract.ts";
import { allStreams } from "./contracts.ts";

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

export interface StreamOptions {
  /**
   * Copies of each stream on a clustered NATS (its consumers follow). Unset: new streams
   * get the server's default (1) and existing ones keep theirs, so a process that does
   * not know the site's choice (a bridge) never undoes it.
   */
  replicas?: number;
  /**
   * Bytes each stream may hold. Unset: new streams get the default cap
   * (core/limits.ts) and existing ones keep theirs, for the same reason as `replicas`.
   */
  maxBytes?: number;
}

export async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subjects: readonly string[],
  options: { retention?: RetentionPolicy; maxAgeMs?: number } & StreamOptions = {},
): Promise<void> {
  const retention = options.retention ?? RetentionPolicy.Workqueue;
  const wanted: Partial<StreamConfig> & { name: string } = {
    name,
    subjects: [...subjects],
    retention,
    storage: StorageType.File,
    max_age: options.maxAgeMs ? nanos(options.maxAgeMs) : 0,
    // Publishes carry deterministic ids: a re-publish inside this window is stored once.
    duplicate_window: nanos(120_000),
    // A full work queue refuses new work (the publisher sees an error and retries
    // later); dropping the oldest would lose work already accepted. Kept messages
    // (dead letters) make room by dropping their oldest.
    discard: retention === RetentionPolicy.Workqueue ? DiscardPolicy.New : DiscardPolicy.Old,
    ...(options.replicas ? { num_replicas: options.replicas } : {}),
    ...(options.maxBytes ? { max_bytes: options.maxBytes } : {}),
  };
  try {
    const info = await jsm.streams.info(name);
    const same =
      info.config.subjects.join(",") === wanted.subjects?.join(",") &&
      info.config.max_age === wanted.max_age &&
      info.config.discard === wanted.discard &&
      // A stream of before the caps (unlimited) gets the default one.
      info.config.max_bytes > 0 &&
      (wanted.max_bytes === undefined || info.config.max_bytes === wanted.max_bytes) &&
      (wanted.num_replicas === undefined || info.config.num_replicas === wanted.num_replicas);
    if (!same) {
      const maxBytes =
        wanted.max_bytes ?? (info.config.max_bytes > 0 ? info.config.max_bytes : CAPS.streamBytes);
      await jsm.streams.update(name, { ...info.config, ...wanted, max_bytes: maxBytes });
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add({ max_bytes: CAPS.streamBytes, ...wanted });
    } catch (addErr) {
      // A replica starting at the same moment created it first.
      if (!/already in use|already exists/i.test(String((addErr as Error).message))) throw addErr;
    }
  }
}

export async function ensureConsumer(
  jsm: JetStreamManager,
  spec: ConsumerSpec,
  options: StreamOptions & {
    /** an existing consumer is left as it is (its owner may have tuned it) */
    keepExisting?: boolean;
  } = {},
): Promise<void> {
  await ensureStream(jsm, spec.stream, spec.subjects, options);
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
    const existing = await jsm.consumers.info(spec.stream, spec.durable);
    if (options.keepExisting) {
      // Its tuning is kept, but not a filter of an earlier layout: it would miss subjects.
      const filter = spec.filterSubject ?? "";
      if ((existing.config.filter_subject ?? "") === filter) return;
      await jsm.consumers.update(spec.stream, spec.durable, {
        ...existing.config,
        filter_subject: filter,
      });
      return;
    }
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

/**
 * Streams of an earlier layout, when bridges shared one launch and one kill stream:
 * their subjects (`launch.>`, `ctl.>`) would take the people's own. Removed; batches
 * they held are sent again by the reaper (they are recorded unpublished).
 */
const FORMER_STREAMS = ["DROVER_LAUNCH", "DROVER_CTL"];

/** Every stream of the contracts (bus/contracts.ts); whoever starts first creates them. */
export async function ensureSharedStreams(
  jsm: JetStreamManager,
  options: StreamOptions = {},
): Promise<void> {
  for (const name of FORMER_STREAMS) {
    await jsm.streams.delete(name).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }
  for (const spec of allStreams()) await ensureStreamSpec(jsm, spec, options);
}

/** A stream as its contract declares it: work queue, or limits for what is kept. */
export async function ensureStreamSpec(
  jsm: JetStreamManager,
  spec: StreamSpec,
  options: StreamOptions = {},
): Promise<void> {
  await ensureStream(jsm, spec.name, spec.subjects, {
    ...(spec.keepMs ? { retention: RetentionPolicy.Limits, maxAgeMs: spec.keepMs } : {}),
    ...options,
  });
}
