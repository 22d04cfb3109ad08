import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { Contracts } from "../bus/contracts.ts";
import { ctlDurable, launchDurable, personStreams } from "../bus/person-streams.ts";
import { isToken } from "../core/identity.ts";

/**
 * What the supervisor watches on the bus, read-only: whose launch and kill streams hold
 * work for a cluster, and which bridges are alive (their heartbeats).
 */

const LAUNCH_PREFIX = personStreams("x").launch.slice(0, -1);

/**
 * People with work waiting on each of `clusters`: their bridge consumer holds batches or
 * kill orders no bridge has taken (pending), or that a bridge took and has not finished
 * (ack pending: a bridge that died with them still needs a successor).
 */
export async function waitingWork(
  jsm: JetStreamManager,
  clusters: readonly string[],
): Promise<Map<string, string[]>> {
  const tokens: string[] = [];
  for await (const name of jsm.streams.names("launch.>")) {
    const token = name.startsWith(LAUNCH_PREFIX) ? name.slice(LAUNCH_PREFIX.length) : "";
    if (isToken(token)) tokens.push(token);
  }
  const waiting = new Map<string, string[]>();
  for (const token of tokens) {
    const streams = personStreams(token);
    for (const cluster of clusters) {
      const held = await Promise.all([
        heldBy(jsm, streams.launch, launchDurable(cluster)),
        heldBy(jsm, streams.ctl, ctlDurable(cluster)),
      ]);
      if (held[0] + held[1] > 0) waiting.set(token, [...(waiting.get(token) ?? []), cluster]);
    }
  }
  return waiting;
}

async function heldBy(jsm: JetStreamManager, stream: string, durable: string): Promise<number> {
  try {
    const info = await jsm.consumers.info(stream, durable);
    return info.num_pending + info.num_ack_pending;
  } catch (err) {
    // No such stream or consumer yet: nothing is waiting there.
    if (/not found|10014|10059/i.test(String((err as Error).message))) return 0;
    throw err;
  }
}

/** The bridges heard from lately, by person and cluster (wherever they run). */
export class BridgeHeartbeats {
  readonly #last = new Map<string, number>();
  #sub: Subscription | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  listen(nc: NatsConnection): void {
    this.#sub = nc.subscribe(Contracts.bridgeHeartbeat.subject, {
      callback: (err, msg) => {
        if (err) return;
        const [, , cluster, token] = msg.subject.split(".");
        if (cluster && token && isToken(token)) this.#last.set(`${token}.${cluster}`, this.now());
      },
    });
  }

  /** Whether a bridge of this person on this cluster was heard within `withinMs`. */
  alive(token: string, cluster: string, withinMs: number): boolean {
    const last = this.#last.get(`${token}.${cluster}`);
    return last !== undefined && this.now() - last <= withinMs;
  }

  /** Forgets a person's bridges: the one that sent the last heartbeats is gone. */
  forget(token: string): void {
    for (const key of this.#last.keys()) if (key.startsWith(`${token}.`)) this.#last.delete(key);
  }

  close(): void {
    this.#sub?.unsubscribe();
  }
}
