import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { CAPS } from "../core/limits.ts";
import { type ConsumerSpec, ensureConsumer, ensureStream, type StreamOptions } from "./streams.ts";

/**
 * What each person has on the bus, apart from everyone else's: a stream of their launch
 * batches (`launch.<cluster>.<token>`), one of orders to their bridges (kill orders
 * `ctl.<cluster>.<token>.kill`, a workflow's new limits `ctl.<cluster>.<token>.limit`),
 * with one durable consumer per cluster in each, and a bucket for the DAGs they submit.
 * Named after their token, so that permissions can name them (bus/permissions.ts).
 * Streams, consumers and buckets are created by the service side (the launch and reap
 * functions, or a process on an unauthenticated NATS): a person only pulls from them.
 */

export interface PersonStreams {
  launch: string;
  ctl: string;
  bucket: string;
}

export function personStreams(token: string): PersonStreams {
  return {
    launch: `DROVER_LAUNCH_${token}`,
    ctl: `DROVER_CTL_${token}`,
    bucket: `drover-dags-${token}`,
  };
}

/** The subjects each of a person's streams holds. */
export function personStreamSubjects(token: string): { launch: string; ctl: string } {
  return { launch: `launch.*.${token}`, ctl: `ctl.*.${token}.*` };
}

/**
 * The consumers bridges pull from, the same whoever creates them: a launch batch is
 * never dropped for a failure of a bridge (it is retried until it goes through), and a
 * bridge keeps it while it works on it.
 */
export const BRIDGE_CONSUMER = { ackWaitMs: 60_000, maxDeliver: 1000, maxAckPending: 100 };

export function launchDurable(cluster: string): string {
  return `bridge-${cluster}`;
}

export function ctlDurable(cluster: string): string {
  return `bridge-${cluster}-ctl`;
}

export function personConsumerSpecs(token: string, cluster: string): ConsumerSpec[] {
  const streams = personStreams(token);
  const subjects = personStreamSubjects(token);
  return [
    {
      stream: streams.launch,
      subjects: [subjects.launch],
      durable: launchDurable(cluster),
      filterSubject: `launch.${cluster}.${token}`,
      ...BRIDGE_CONSUMER,
    },
    {
      stream: streams.ctl,
      subjects: [subjects.ctl],
      durable: ctlDurable(cluster),
      filterSubject: `ctl.${cluster}.${token}.*`,
      ...BRIDGE_CONSUMER,
    },
  ];
}

/**
 * A person's streams and bucket, each capped at `maxBytes` (default: the person cap of
 * core/limits.ts), so that one person's uploads and batches cannot fill the disk of
 * all. Idempotent.
 */
export async function ensurePersonStreams(
  nc: NatsConnection,
  jsm: JetStreamManager,
  token: string,
  options: StreamOptions = {},
): Promise<void> {
  const streams = personStreams(token);
  const subjects = personStreamSubjects(token);
  const capped = { ...options, maxBytes: options.maxBytes ?? CAPS.personBytes };
  await ensureStream(jsm, streams.launch, [subjects.launch], capped);
  await ensureStream(jsm, streams.ctl, [subjects.ctl], capped);
  const bucket = await new Objm(nc).create(streams.bucket, {
    description: `DAGs submitted by ${token}`,
    max_bytes: capped.maxBytes,
    ...(options.replicas ? { replicas: options.replicas } : {}),
  });
  // An existing bucket is opened as it is: its cap is brought to the wanted one here.
  const stream = (await bucket.status()).streamInfo;
  if (stream.config.max_bytes !== capped.maxBytes) {
    await jsm.streams.update(stream.config.name, {
      ...stream.config,
      max_bytes: capped.maxBytes,
    });
  }
}

/** A person's consumers for one cluster (and their streams). Idempotent. */
export async function ensurePersonConsumers(
  jsm: JetStreamManager,
  token: string,
  cluster: string,
  options: StreamOptions = {},
): Promise<void> {
  // Made if missing, never changed: a bridge that may tune its consumer keeps its tuning.
  for (const spec of personConsumerSpecs(token, cluster)) {
    await ensureConsumer(jsm, spec, { ...options, keepExisting: true });
  }
}

/**
 * Remembers what this process has provisioned, so that the launch function does it
 * once per person and cluster, not once per batch.
 */
export class PersonProvisioner {
  readonly #done = new Map<string, Promise<void>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: () => Promise<JetStreamManager>,
    private readonly options: StreamOptions = {},
  ) {}

  /** The person's streams and bucket, then (given a cluster) their consumers for it. */
  async ensure(token: string, cluster?: string): Promise<void> {
    await this.#once(token, async (jsm) => ensurePersonStreams(this.nc, jsm, token, this.options));
    if (cluster !== undefined) {
      await this.#once(`${token}\u0000${cluster}`, async (jsm) =>
        ensurePersonConsumers(jsm, token, cluster, this.options),
      );
    }
  }

  #once(key: string, make: (jsm: JetStreamManager) => Promise<void>): Promise<void> {
    let done = this.#done.get(key);
    if (!done) {
      done = this.jsm().then(make);
      // A failure is not remembered: the next message tries again.
      done.catch(() => this.#done.delete(key));
      this.#done.set(key, done);
    }
    return done;
  }
}
