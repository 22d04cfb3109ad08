/**
 * The health endpoint of a function process, for an orchestrator's probes. Off unless
 * a port is configured (DROVER_HEALTH_PORT); it listens on every address, since probes
 * come from outside the process's network namespace, and tells nothing secret.
 *
 *   GET /livez   200 unless restarting this process would help: the NATS connection is
 *                closed for good, or a consumer this process runs is gone from the server
 *                (start-up creates it again). An outage of NATS or Postgres is not a
 *                liveness failure: restarting every replica would not end it.
 *   GET /readyz  200 when the process can do its work: started and not stopping, NATS
 *                answers a ping, Postgres answers `select 1`, every consumer exists.
 *
 * Both answer `{ ok, state, checks: { <name>: { ok, error? } } }`; a check that does not
 * answer within its timeout fails readiness only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import type { Logger } from "../core/log.ts";
import { enableProcessMetrics, METRICS_PATH, serveMetrics } from "../core/metrics.ts";

export const HEALTH_PATHS = { live: "/livez", ready: "/readyz" } as const;
/** How long one check may take by default: a probe's timeout must be longer. */
export const CHECK_TIMEOUT_MS = 2000;

export interface HealthTargets {
  nc: NatsConnection;
  sql: Sql;
  /** the durable consumers this process pulls from (none for request/reply services) */
  consumers: readonly { stream: string; durable: string }[];
}

export interface HealthServer {
  port: number;
  /** everything is started: checks begin */
  running(targets: HealthTargets): void;
  /** a stop began: not ready any more, still live while it drains */
  stopping(): void;
  close(): Promise<void>;
}

interface Check {
  ok: boolean;
  error?: string;
  /** a definite failure that a restart repairs, not a timeout or an outage */
  fatal?: boolean;
}

type State = "starting" | "running" | "stopping";

class Timeout extends Error {}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`${what} did not answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isGone(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.ConsumerNotFound ||
      err.code === JetStreamApiCodes.StreamNotFound)
  );
}

const failed = (err: unknown, fatal = false): Check => ({
  ok: false,
  error: (err as Error).message,
  ...(fatal ? { fatal } : {}),
});

export async function startHealthServer(options: {
  port: number;
  log: Logger;
  /** per check; probes time out after a few seconds, so keep this below them */
  timeoutMs?: number;
  /** serve the process's metrics at /metrics too (core/metrics.ts) */
  metrics?: boolean;
}): Promise<HealthServer> {
  const log = options.log.child({ component: "health" });
  const timeoutMs = options.timeoutMs ?? CHECK_TIMEOUT_MS;
  let state: State = "starting";
  let targets: HealthTargets | undefined;
  let jsm: JetStreamManager | undefined;

  async function checkConsumers(t: HealthTargets): Promise<Record<string, Check>> {
    const checks: Record<string, Check> = {};
    if (t.consumers.length === 0) return checks;
    try {
      // No API probe: it would fail while NATS is away, and the checks below say so.
      jsm ??= await jetstreamManager(t.nc, { checkAPI: false });
    } catch (err) {
      for (const c of t.consumers) checks[`consumer ${c.stream}/${c.durable}`] = failed(err);
      return checks;
    }
    const manager = jsm;
    await Promise.all(
      t.consumers.map(async (c) => {
        const name = `consumer ${c.stream}/${c.durable}`;
        try {
          await within(manager.consumers.info(c.stream, c.durable), timeoutMs, name);
          checks[name] = { ok: true };
        } catch (err) {
          checks[name] = failed(err, isGone(err));
        }
      }),
    );
    return checks;
  }

  async function checkAll(t: HealthTargets): Promise<Record<string, Check>> {
    const nats: Promise<Check> = t.nc.isClosed()
      ? Promise.resolve({ ok: false, error: "connection closed", fatal: true })
      : within(t.nc.flush(), timeoutMs, "NATS").then(
          () => ({ ok: true }),
          (err) => failed(err),
        );
    const postgres: Promise<Check> = within(
      Promise.resolve(t.sql`select 1`),
      timeoutMs,
      "Postgres",
    ).then(
      () => ({ ok: true }),
      (err) => failed(err),
    );
    const [n, p, consumers] = await Promise.all([nats, postgres, checkConsumers(t)]);
    return { nats: n, postgres: p, ...consumers };
  }

  async function report(kind: "live" | "ready"): Promise<{ status: number; body: unknown }> {
    if (!targets || state === "stopping") {
      // Starting (migrating, connecting) or draining: alive, not ready. A start that
      // fails exits by itself; a drain closes the connections the checks would use.
      const ok = kind === "live";
      return { status: ok ? 200 : 503, body: { ok, state, checks: {} } };
    }
    const checks = await checkAll(targets);
    const all = Object.values(checks);
    const ok =
      kind === "live" ? !all.some((c) => c.fatal) : state === "running" && all.every((c) => c.ok);
    if (!ok) log.warn({ kind, state, checks }, "health check failed");
    return { status: ok ? 200 : 503, body: { ok, state, checks } };
  }

  if (options.metrics) enableProcessMetrics();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.metrics && (await serveMetrics(req, res))) return;
    const path = new URL(req.url ?? "/", "http://health.invalid").pathname;
    const kind =
      path === HEALTH_PATHS.live ? "live" : path === HEALTH_PATHS.ready ? "ready" : undefined;
    let status: number;
    let body: unknown;
    if (req.method !== "GET" && req.method !== "HEAD") {
      [status, body] = [405, { error: `${req.method} is not allowed` }];
    } else if (!kind) {
      [status, body] = [404, { error: `no health route ${path}` }];
    } else {
      ({ status, body } = await report(kind));
    }
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      log.error({ err }, "health request failed");
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info(
    { port, paths: { ...HEALTH_PATHS, ...(options.metrics ? { metrics: METRICS_PATH } : {}) } },
    "health endpoint listening",
  );
  return {
    port,
    running(t) {
      targets = t;
      state = "running";
    },
    stopping() {
      state = "stopping";
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
