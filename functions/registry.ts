import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import type { FunctionDefinition } from "../bus/runtime.ts";
import type { Logger } from "../core/log.ts";
import { bindDag } from "./bind-dag/handler.ts";
import { startCommandService } from "./command/service.ts";
import { complete } from "./complete/handler.ts";
import { heartbeat } from "./heartbeat/handler.ts";
import { launch } from "./launch/handler.ts";
import { type RunningService, startQueryService } from "./query/service.ts";
import { reap } from "./reap/handler.ts";
import { registerQueues } from "./register-queues/handler.ts";
import { retry } from "./retry/handler.ts";
import { schedule } from "./schedule/handler.ts";

/** Every function Drover runs, by name. Adding a function means adding it here. */
export const functions: Record<string, FunctionDefinition> = {
  [bindDag.name]: bindDag as unknown as FunctionDefinition,
  [schedule.name]: schedule as unknown as FunctionDefinition,
  [launch.name]: launch as unknown as FunctionDefinition,
  [heartbeat.name]: heartbeat as unknown as FunctionDefinition,
  [complete.name]: complete as unknown as FunctionDefinition,
  [retry.name]: retry as unknown as FunctionDefinition,
  [reap.name]: reap as unknown as FunctionDefinition,
  [registerQueues.name]: registerQueues as unknown as FunctionDefinition,
};

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
