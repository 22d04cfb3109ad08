/**
 * Prometheus metrics (prom-client). Every Drover process registers its metrics on one
 * registry per process and serves it at `/metrics` (DROVER_METRICS_PORT; a function
 * process with the same port as its health endpoint serves both on one server). The
 * metric objects are declared where they are measured, at the shared seams (bus/metrics.ts
 * for the consume loop and the request services, the launch function, the bridges);
 * this module holds the registry, the endpoint, and gauges read at scrape time.
 *
 * Labels never carry an id or a person's name: a label value is one of a few declared
 * things (a function, a subject pattern as the contracts declare it, a status, a
 * cluster), so the series stay few however many workflows and people there are.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { Logger } from "./log.ts";

export { Counter, Gauge, Histogram } from "prom-client";

export const METRICS_PATH = "/metrics";

/** The process's registry: every metric of Drover is on it. */
export const registry = new Registry();

let processMetrics = false;
/** Node's own metrics (CPU, memory, event-loop lag, GC), once per process. */
export function enableProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry });
}

/** Histogram buckets of handler and command durations, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** One value of a gauge read at scrape time. */
export interface Sample<L extends string> {
  labels: Partial<Record<L, string | number>>;
  value: number;
}

/** A source of samples; called at each scrape. */
export type SampleSource<L extends string> = () => Sample<L>[] | Promise<Sample<L>[]>;

/**
 * A gauge whose values are read at scrape time from the sources added to it (a consumer's
 * lag, a bridge's slots): parts that start and stop add and remove their source. A source
 * that fails is left out of that scrape (its series disappear, which alerting sees) and
 * never fails the scrape.
 */
export class SourcedGauge<L extends string> {
  private readonly sources = new Set<SampleSource<L>>();
  readonly gauge: Gauge<L>;

  constructor(config: { name: string; help: string; labelNames: readonly L[] }) {
    const sources = this.sources;
    this.gauge = new Gauge<L>({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const all = await Promise.allSettled([...sources].map(async (s) => s()));
        for (const r of all) {
          if (r.status !== "fulfilled") continue;
          for (const { labels, value } of r.value) this.set(labels, value);
        }
      },
    });
  }

  /** Adds a source; the returned function removes it. */
  add(source: SampleSource<L>): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }
}

/** Answers a scrape of `/metrics`; false when the request is for another path. */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = new URL(req.url ?? "/", "http://metrics.invalid").pathname;
  if (path !== METRICS_PATH) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" });
    res.end();
    return true;
  }
  const body = await registry.metrics();
  res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : body);
  return true;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` on every address (Prometheus scrapes from outside the process's
 * network namespace; nothing in the metrics is secret: counts, durations, names of
 * functions and statuses). Port 0 picks a free one.
 */
export async function startMetricsServer(options: {
  port: number;
  log: Logger;
  host?: string;
}): Promise<MetricsServer> {
  const log = options.log.child({ component: "metrics" });
  enableProcessMetrics();
  const server = createServer((req, res) => {
    serveMetrics(req, res)
      .then((served) => {
        if (served) return;
        res.writeHead(404, { "content-type": "text/plain" });
        res.end(`only ${METRICS_PATH} is served here\n`);
      })
      .catch((err) => {
        log.error({ err }, "metrics scrape failed");
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, path: METRICS_PATH }, "metrics endpoint listening");
  return {
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
