/**
 * The COPYs of one bind on its transaction's connection, fed from a queue: task rows
 * and, every few hundred thousand, a group of edge rows. One connection runs one COPY
 * at a time, so the sender ends the task COPY, copies the edges, and starts a new task
 * COPY; meanwhile the producer goes on encoding into the queue. Postgres thus works on
 * edges while tasks are still being read, instead of after the last task (a million
 * edges are ~2.5 s of Postgres's time: the bind's tail when edges came last).
 */
import type { TransactionSql } from "postgres";
import { type CopyWriter, openCopy } from "./copy.ts";

export type CopyTable = "task" | "edge";

interface Item {
  table: CopyTable;
  chunk: Buffer;
  rows: number;
}

/** Encoded rows the queue may hold before push() waits for the sender. */
const MAX_QUEUED_BYTES = 32 << 20;

export class CopySender {
  private readonly queue: Item[] = [];
  private head = 0;
  private queuedBytes = 0;
  private wake: (() => void) | undefined;
  private room: (() => void) | undefined;
  private closed = false;
  private failure: unknown;
  private current: CopyWriter | null = null;
  private readonly done: Promise<void>;
  /** Milliseconds the sender spent waiting for COPYs to end and start (a switch). */
  switchMs = 0;

  constructor(
    private readonly tx: TransactionSql,
    private readonly statements: Record<CopyTable, string>,
  ) {
    this.done = this.run().catch((err: unknown) => {
      this.failure ??= err;
      this.current?.abort(err);
      this.room?.();
    });
  }

  /** Queues rows for their table; waits while the queue is full. Throws the sender's failure. */
  async push(table: CopyTable, chunk: Buffer, rows: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (rows === 0) return;
    this.queue.push({ table, chunk, rows });
    this.queuedBytes += chunk.length;
    this.wake?.();
    if (this.queuedBytes > MAX_QUEUED_BYTES) {
      await new Promise<void>((resolve) => {
        this.room = resolve;
      });
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Sends what is queued, ends the last COPY; resolves once Postgres has every row. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.done;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Gives up: the open COPY fails (CopyFail); resolves once the connection is free. */
  async abort(reason: unknown): Promise<void> {
    this.failure ??= reason;
    this.current?.abort(reason);
    this.wake?.();
    await this.done;
  }

  private async run(): Promise<void> {
    let table: CopyTable | null = null;
    for (;;) {
      while (this.head === this.queue.length && !this.closed && this.failure === undefined) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.head === this.queue.length) break; // closed and drained
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Item;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.queuedBytes -= item.chunk.length;
      if (this.room && this.queuedBytes <= MAX_QUEUED_BYTES) {
        this.room();
        this.room = undefined;
      }
      if (item.table !== table || this.current === null) {
        const t0 = performance.now();
        if (this.current) await this.current.end();
        this.current = null;
        if (this.failure !== undefined) throw this.failure;
        this.current = await openCopy(this.tx.unsafe(this.statements[item.table]));
        table = item.table;
        this.switchMs += performance.now() - t0;
        if (this.failure !== undefined) throw this.failure; // given up meanwhile (run's catch aborts it)
      }
      await this.current.chunk(item.chunk, item.rows);
    }
    if (this.current) await this.current.end();
    this.current = null;
  }
}
