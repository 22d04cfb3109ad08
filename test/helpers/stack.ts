import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import type { WorkflowAnswer } from "../../bus/queries.ts";
import type { RunningFunction } from "../../bus/runtime.ts";
import { followWorkflow } from "../../client/follow.ts";
import { type BoundWorkflow, type SubmitOptions, submitWorkflow } from "../../client/submit.ts";
import { silentLogger } from "../../core/log.ts";
import { startFunction } from "../../functions/context.ts";
import {
  createFunctions,
  DEFAULT_TIMING,
  services,
  type Timing,
} from "../../functions/registry.ts";
import { type LocalBridge, startLocalBridge } from "../../local-bridge/bridge.ts";
import type { Submission } from "../../submission/submission.ts";
import { type FreshDatabase, freshDatabase } from "./db.ts";
import { startNats, type TestNats } from "./nats.ts";

/**
 * A whole Drover in the test process: a fresh database, a private nats-server, every
 * function and service of the registry, and the local bridge (local, sequential, dummy)
 * writing task logs to a temp directory.
 */
export interface TestStack {
  db: FreshDatabase;
  sql: Sql;
  nats: TestNats;
  nc: NatsConnection;
  logDir: string;
  bridge: LocalBridge;
  submit(sub: Submission, options?: SubmitOptions): Promise<BoundWorkflow>;
  /** submits and follows to the end */
  run(sub: Submission, options?: SubmitOptions & { timeoutMs?: number }): Promise<WorkflowAnswer>;
  stop(): Promise<void>;
}

export async function startTestStack(
  options: { slots?: number; timing?: Partial<Timing> } = {},
): Promise<TestStack> {
  const functions = createFunctions({ ...DEFAULT_TIMING, ...options.timing });
  const [db, nats] = await Promise.all([freshDatabase(), startNats()]);
  const nc = await connectBus(nats.url, "test-stack");
  const logDir = mkdtempSync(join(tmpdir(), "drover-logs-"));
  const running: RunningFunction[] = [];
  for (const fn of Object.values(functions)) {
    running.push(await startFunction(fn, { nc, sql: db.sql, log: silentLogger }));
  }
  for (const service of Object.values(services)) {
    running.push(await service.start({ nc, sql: db.sql, log: silentLogger }));
  }
  const bridge = await startLocalBridge({
    nc,
    log: silentLogger,
    slots: options.slots ?? 4,
    logDir,
  });
  const stack: TestStack = {
    db,
    sql: db.sql,
    nats,
    nc,
    logDir,
    bridge,
    submit: (sub, o) => submitWorkflow(nc, sub, o),
    async run(sub, o = {}) {
      const bound = await submitWorkflow(nc, sub, o);
      return followWorkflow(nc, bound.workflow_id, { timeoutMs: o.timeoutMs ?? 60_000 });
    },
    async stop() {
      await bridge.stop();
      await Promise.all(running.map((r) => r.stop()));
      await nc.drain();
      await Promise.all([db.drop(), nats.stop()]);
      rmSync(logDir, { recursive: true, force: true });
    },
  };
  return stack;
}
