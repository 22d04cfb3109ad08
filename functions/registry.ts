import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import type { FunctionDefinition } from "../bus/runtime.ts";
import type { Logger } from "../core/log.ts";
import { bindDag } from "./bind-dag/handler.ts";
import { startCommandService } from "./command/service.ts";
import { complete } from "./complete/handler.ts";
import { createHeartbeat } from "./heartbeat/handler.ts";
import { createLaunch } from "./launch/handler.ts";
import { type RunningService, startQueryService } from "./query/service.ts";
import { createReap } from "./reap/handler.ts";
import { registerQueues } from "./register-queues/handler.ts";
import { retry } from "./retry/handler.ts";
import { createSchedule } from "./schedule/handler.ts";

/** The timings functions are built with (from the configuration, see core/config.ts). */
export interface Timing {
  /** how often bridges report live instances */
  heartbeatSeconds: number;
  /** heartbeats missed before an instance is lost */
  missedHeartbeats: number;
  /** period of the schedule and reap sweeps */
  sweepSeconds: number;
}

export const DEFAULT_TIMING: Timing = {
  heartbeatSeconds: 30,
  missedHeartbeats: 3,
  sweepSeconds: 5,
};

/** Every function Drover runs, by name. Adding a function means adding it here. */
export function createFunctions(
  timing: Timing = DEFAULT_TIMING,
): Record<string, FunctionDefinition> {
  // Slack on top of the missed heartbeats scales with the heartbeat, so that short
  // heartbeats (tests) also find lost instances quickly.
  const beat = {
    heartbeatSeconds: timing.heartbeatSeconds,
    missedHeartbeats: timing.missedHeartbeats,
  };
  const h = timing.heartbeatSeconds;
  const list = [
    bindDag,
    createSchedule({ sweepMs: timing.sweepSeconds * 1000 }),
    createLaunch({ ...beat, launchSlackSeconds: 2 * h }),
    createHeartbeat({ ...beat, slackSeconds: h }),
    complete,
    retry,
    createReap({
      sweepMs: timing.sweepSeconds * 1000,
      heartbeatSeconds: h,
      stuckSeconds: Math.max(10, 2 * h),
    }),
    registerQueues,
  ] as unknown as FunctionDefinition[];
  return Object.fromEntries(list.map((fn) => [fn.name, fn]));
}

export const functions = createFunctions();

/** A part that is not a JetStream consumer (core NATS request/reply), started by main.ts too. */
export interface ServiceDefinition {
  name: string;
  start(deps: { nc: NatsConnection; sql: Sql; log: Logger }): Promise<RunningService>;
}

/** Every service Drover runs, by name (names share one namespace with the functions). */
export const services: Record<string, ServiceDefinition> = {
  query: { name: "query", start: startQueryService },
  command: { name: "command", start: startCommandService },
};
