import type { z } from "zod";
import type { JetStreamContract, KeyArgs } from "../bus/contract.ts";
import { Contracts } from "../bus/contracts.ts";
import type { Publisher } from "../bus/publish.ts";
import type { TiLaunched, TiRunning } from "../bus/schemas.ts";
import type { DoneEntry, ErrorEntry, ResultEntry } from "./results.ts";

/**
 * Batches task-instance reports onto the bus. Reports are collected and published as
 * soon as the event loop is idle (a lone result goes out at once, and whatever piles up
 * while a publish is in flight goes out together in the next one), or, with `lingerMs`,
 * no sooner than that after the last pass,
 * each message capped by count and by bytes (NATS refuses payloads over 1 MB; stderr
 * tails are up to 10 KB each). Each pass first sends every queued `ti.running`, then
 * only the heartbeats and results queued by then, so an instance is never reported done
 * before it is reported running. Message ids are derived from the instance ids (see
 * bus/contracts.ts), so re-publishing the same report inside the dedupe window stores it once. A failed publish (NATS
 * restarting) is retried until it succeeds: results are never dropped while running.
 */

export type PublishFn = Publisher["publish"];

/** The part of a pino logger used here (the worker has a smaller one). */
export interface MiniLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type LaunchedEntry = TiLaunched["instances"][number];
export type RunningEntry = TiRunning["instances"][number];

export interface ReporterOptions {
  /** entries per message */
  maxCount?: number;
  /** payload bytes per message */
  maxBytes?: number;
  /** names heartbeat message ids */
  reporterId: string;
  /**
   * the least time between two publishing passes: reports that come meanwhile go out
   * together. The first report after a quiet spell goes out at once. 0: no wait.
   */
  lingerMs?: number;
}

class SizedQueue<T> {
  private items: { item: T; bytes: number }[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T, bytes: number): void {
    this.items.push({ item, bytes });
  }

  /** Takes at least one item, then more while within both caps. */
  take(maxCount: number, maxBytes: number): T[] {
    const out: T[] = [];
    let bytes = 0;
    while (this.head < this.items.length && out.length < maxCount) {
      const next = this.items[this.head]!;
      if (out.length > 0 && bytes + next.bytes > maxBytes) break;
      out.push(next.item);
      bytes += next.bytes;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

/** Splits entries into chunks within both caps (sizes measured as JSON). */
export function chunkBySize<T>(entries: readonly T[], maxCount: number, maxBytes: number): T[][] {
  const q = new SizedQueue<T>();
  for (const e of entries) q.push(e, JSON.stringify(e).length + 1);
  const chunks: T[][] = [];
  while (q.length > 0) chunks.push(q.take(maxCount, maxBytes));
  return chunks;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Reporter {
  readonly maxCount: number;
  readonly maxBytes: number;
  private readonly running = new SizedQueue<RunningEntry>();
  private readonly heartbeats = new SizedQueue<number>();
  private readonly done = new SizedQueue<DoneEntry>();
  private readonly errors = new SizedQueue<ErrorEntry>();
  private scheduled = false;
  private lastPassAt = Number.NEGATIVE_INFINITY;
  private pumping: Promise<void> | undefined;
  private heartbeatSeq = 0;
  private giveUpAt = Number.POSITIVE_INFINITY;
  /** messages published, by subject (for logs and tests) */
  readonly published = new Map<string, number>();

  constructor(
    private readonly publish: PublishFn,
    private readonly log: MiniLog,
    private readonly options: ReporterOptions,
  ) {
    this.maxCount = options.maxCount ?? 1000;
    this.maxBytes = options.maxBytes ?? 512 * 1024;
  }

  /**
   * Publishes `ti.launched` for a launch batch now (one message unless it is too big),
   * and throws if that fails: the caller has not accepted the batch then.
   */
  async launched(cluster: string, entries: readonly LaunchedEntry[]): Promise<void> {
    // A launch batch may be large: only the byte cap applies to its announcement.
    for (const chunk of chunkBySize(entries, Number.MAX_SAFE_INTEGER, this.maxBytes)) {
      await this.send(Contracts.tiLaunched, { v: 1, cluster, instances: chunk });
    }
  }

  reportRunning(entry: RunningEntry): void {
    this.running.push(entry, JSON.stringify(entry).length + 1);
    this.schedule();
  }

  reportHeartbeat(ids: readonly number[]): void {
    for (const id of ids) this.heartbeats.push(id, String(id).length + 1);
    if (ids.length > 0) this.schedule();
  }

  reportResult(result: ResultEntry): void {
    if ("done" in result) this.done.push(result.done, JSON.stringify(result.done).length + 1);
    else this.errors.push(result.error, JSON.stringify(result.error).length + 1);
    this.schedule();
  }

  get pending(): number {
    return this.running.length + this.heartbeats.length + this.done.length + this.errors.length;
  }

  /** Resolves once everything reported so far is published. */
  async flush(): Promise<void> {
    while (this.pending > 0 || this.pumping || this.scheduled) {
      if (this.pumping) await this.pumping;
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Flushes, giving up on what cannot be published within `deadlineMs`. */
  async close(deadlineMs = 30_000): Promise<void> {
    this.giveUpAt = Date.now() + deadlineMs;
    await this.flush();
  }

  private schedule(): void {
    if (this.scheduled || this.pumping) return;
    this.scheduled = true;
    const pass = () => {
      this.scheduled = false;
      this.lastPassAt = performance.now();
      this.pumping = this.pump().finally(() => {
        this.pumping = undefined;
        if (this.pending > 0) this.schedule();
      });
    };
    const wait = this.lastPassAt + (this.options.lingerMs ?? 0) - performance.now();
    if (wait > 0) setTimeout(pass, wait);
    else setImmediate(pass);
  }

  private async pump(): Promise<void> {
    while (this.pending > 0) {
      while (this.running.length > 0) {
        const chunk = this.running.take(this.maxCount, this.maxBytes);
        await this.send(Contracts.tiRunning, { v: 1, instances: chunk });
      }
      // Only what was queued before the running queue ran dry: the `ti.running` of those
      // instances is out. What arrives while these go out waits for the next pass.
      let heartbeats = this.heartbeats.length;
      let done = this.done.length;
      let errors = this.errors.length;
      while (heartbeats > 0) {
        // ids are tiny: a heartbeat may list many more of them than results per message
        const ids = this.heartbeats.take(Math.min(this.maxCount * 20, heartbeats), this.maxBytes);
        heartbeats -= ids.length;
        const from = { reporter: this.options.reporterId, seq: ++this.heartbeatSeq };
        await this.send(Contracts.tiHeartbeat, { v: 1, instance_ids: ids }, from);
      }
      while (done > 0) {
        const chunk = this.done.take(Math.min(this.maxCount, done), this.maxBytes);
        done -= chunk.length;
        await this.send(Contracts.tiDone, { v: 1, results: chunk });
      }
      while (errors > 0) {
        const chunk = this.errors.take(Math.min(this.maxCount, errors), this.maxBytes);
        errors -= chunk.length;
        await this.send(Contracts.tiError, { v: 1, results: chunk }, "report");
      }
    }
  }

  private async send<S extends z.ZodType, K>(
    contract: JetStreamContract<string, S, K>,
    data: z.input<S>,
    ...key: KeyArgs<K>
  ): Promise<void> {
    const subject = contract.subject;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.publish(contract, data, ...key);
        this.published.set(subject, (this.published.get(subject) ?? 0) + 1);
        if (attempt > 1) this.log.info({ subject, attempt }, "report published after retrying");
        return;
      } catch (err) {
        if (subject === Contracts.tiLaunched.subject) throw err;
        if ((err as Error).name === "PublishValidationError") {
          // A bug, not an outage: retrying cannot help.
          this.log.error({ err, subject }, "report dropped: it fails its schema");
          return;
        }
        if (Date.now() >= this.giveUpAt) {
          this.log.error({ err, subject }, "report dropped: could not be published");
          return;
        }
        if (attempt === 1 || attempt % 20 === 0) {
          this.log.warn({ err, subject, attempt }, "report not published, retrying");
        }
        await sleep(Math.min(5000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }
}
