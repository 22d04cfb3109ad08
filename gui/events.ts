// Live updates for the pages: Server-Sent Events relaying the bus's live events (core
// NATS `evt.>`, best-effort, bus/events.ts). One NATS subscription per open page:
// - /api/workflows/:id/events: `evt.*.<id>`, a workflow's status and its task moves;
// - /api/events: `evt.workflow.*`, every workflow's status (the workflows list).
// Events are hints: the pages re-read the counts from the API after them, so a lost
// event costs freshness, never correctness.
import type { ServerResponse } from "node:http";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { Events, workflowEvents } from "../bus/events.ts";
import { CAPS } from "../core/limits.ts";
import type { Logger } from "../core/log.ts";
import { SECURITY_HEADERS, sendJson } from "./http.ts";

/** Task ids relayed per event at most; beyond, the page gets the count and re-reads. */
const MAX_RELAYED_IDS = 500;
const PING_MS = 15_000;

export class EventRelay {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    /** streams open at once: each holds a socket and a NATS subscription */
    private readonly maxStreams: number = CAPS.guiStreams,
  ) {}

  /**
   * Streams one workflow's events, or every workflow's status when `workflowId` is null.
   * Past `maxStreams` open ones it answers 503: the page's EventSource tries again later.
   */
  stream(res: ServerResponse, workflowId: number | null): void {
    if (this.open.size >= this.maxStreams) {
      res.setHeader("Retry-After", "30");
      sendJson(res, 503, {
        error: `too many live-update streams open (${this.open.size}, the most is ${this.maxStreams}: DROVER_GUI_MAX_STREAMS); try again later`,
      });
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.write(`retry: 2000\n: connected\n\n`);
    const subject = workflowId === null ? Events.workflow.subject : workflowEvents(workflowId);
    let sub: Subscription;
    try {
      sub = this.nc.subscribe(subject, {
        callback: (err, m) => {
          if (err) return;
          let data: Record<string, unknown>;
          try {
            data = m.json<Record<string, unknown>>();
          } catch {
            return;
          }
          const kind = m.subject.split(".")[1] ?? "message";
          res.write(`event: ${kind}\ndata: ${JSON.stringify(relayed(data))}\n\n`);
        },
      });
    } catch (err) {
      this.log.warn({ err }, "gui events: cannot subscribe");
      res.end();
      return;
    }
    const ping = setInterval(() => res.write(": ping\n\n"), PING_MS);
    const close = () => {
      clearInterval(ping);
      sub.unsubscribe();
      this.open.delete(close);
      res.end();
    };
    this.open.add(close);
    res.on("close", close);
  }

  /** Ends every open stream (server stop). */
  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  get size(): number {
    return this.open.size;
  }
}

function relayed(data: Record<string, unknown>): Record<string, unknown> {
  const ids = data["task_ids"];
  if (!Array.isArray(ids)) return data;
  const { task_ids: _ids, ...rest } = data;
  return ids.length <= MAX_RELAYED_IDS
    ? { ...rest, count: ids.length, task_ids: ids }
    : { ...rest, count: ids.length };
}
