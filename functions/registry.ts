import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import type { FunctionName } from "../bus/contracts.ts";
import type { Logger } from "../core/log.ts";
import { type BindCaps, createBindDag } from "./bind-dag/handler.ts";
import { startCommandService } from "./command/service.ts";
import { complete } from "./complete/handler.ts";
import type { FunctionDefinition } from "./context.ts";
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
  /** how long a batch or queued task may wait for its message before it is re-sent (0 = auto) */
  stuckSeconds?: number;
}

export const DEFAULT_TIMING: Timing = {
  heartbeatSeconds: 30,
  missedHeartbeats: 3,
  sweepSeconds: 5,
};

/**
 * Every function Drover runs, by name. Adding a function means declaring the subjects
 * it consumes in bus/contracts.ts (that is where its subjects and stream come from) and
 * adding it here; the type makes sure every consumer the contracts name is listed.
 */
export function createFunctions(
  timing: Timing & Partial<BindCaps> = DEFAULT_TIMING,
): FunctionRegistry {
  // Slack on top of the missed heartbeats scales with the heartbeat, so that short
  // heartbeats (tests) also find lost instances quickly.
  const beat = {
    heartbeatSeconds: timing.heartbeatSeconds,
    missedHeartbeats: timing.missedHeartbeats,
  };
  const h = timing.heartbeatSeconds;
  return {
    "bind-dag": createBindDag({
      ...(timing.maxTasks ? { maxTasks: timing.maxTasks } : {}),
      ...(timing.dagMaxBytes ? { dagMaxBytes: timing.dagMaxBytes } : {}),
      ...(timing.maxActiveWorkflows !== undefined
        ? { maxActiveWorkflows: timing.maxActiveWorkflows }
        : {}),
    }),
    schedule: createSchedule({ sweepMs: timing.sweepSeconds * 1000 }),
    launch: createLaunch({ ...beat, launchSlackSeconds: 2 * h }),
    heartbeat: createHeartbeat({ ...beat, slackSeconds: h }),
    complete,
    retry,
    reap: createReap({
      sweepMs: timing.sweepSeconds * 1000,
      heartbeatSeconds: h,
      stuckSeconds: timing.stuckSeconds || Math.max(10, 2 * h),
    }),
    "register-queues": registerQueues,
  };
}

/** One definition per consuming function of the contracts, under its own name. */
export type FunctionRegistry = {
  [F in FunctionName]: FunctionDefinition<never> & { name: F };
};

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
