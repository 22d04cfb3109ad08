import type { NatsConnection } from "@nats-io/nats-core";
import { connectionToken } from "../bus/connect.ts";
import { fillToken } from "../bus/contract.ts";
import {
  type DependenciesAnswer,
  type DependenciesQuery,
  type EnvironmentAnswer,
  type EnvironmentQuery,
  type ErrorsAnswer,
  type ErrorsQuery,
  type LogsAnswer,
  type LogsQuery,
  QueryService,
  type ResourcesAnswer,
  type ResourcesQuery,
  type TaskAnswer,
  type TaskQuery,
  type TasksAnswer,
  type TasksQuery,
  type WorkflowAnswer,
  type WorkflowQuery,
  type WorkflowsAnswer,
  type WorkflowsQuery,
} from "../bus/queries.ts";
import { requestJson } from "./request.ts";

/** A query the service answered with `{ error }` (unknown id, bad request). */
export class QueryFailed extends Error {
  override name = "QueryFailed";
}

/**
 * Read models over NATS request/reply; the client needs no database. A missing query
 * service is reported as such, with the hint to start the stack.
 */
export class Queries {
  constructor(
    private readonly nc: NatsConnection,
    /** who asks: the connection's own token (the GUI names the person it acts for) */
    private readonly caller = connectionToken(nc),
    private readonly timeoutMs = 10_000,
  ) {}

  private ask<T>(subject: string, body: unknown): Promise<T> {
    return requestJson<T>(this.nc, fillToken(subject, this.caller), body, {
      timeoutMs: this.timeoutMs,
      service: "query",
      refused: (message) => new QueryFailed(message),
    });
  }

  workflow(q: WorkflowQuery): Promise<WorkflowAnswer> {
    return this.ask(QueryService.endpoints.workflow.subject, q);
  }
  tasks(q: TasksQuery): Promise<TasksAnswer> {
    return this.ask(QueryService.endpoints.tasks.subject, q);
  }
  task(q: TaskQuery): Promise<TaskAnswer> {
    return this.ask(QueryService.endpoints.task.subject, q);
  }
  errors(q: ErrorsQuery): Promise<ErrorsAnswer> {
    return this.ask(QueryService.endpoints.errors.subject, q);
  }
  workflows(q: WorkflowsQuery = {}): Promise<WorkflowsAnswer> {
    return this.ask(QueryService.endpoints.workflows.subject, q);
  }
  dependencies(q: DependenciesQuery): Promise<DependenciesAnswer> {
    return this.ask(QueryService.endpoints.dependencies.subject, q);
  }
  resources(q: ResourcesQuery): Promise<ResourcesAnswer> {
    return this.ask(QueryService.endpoints.resources.subject, q);
  }
  logs(q: LogsQuery): Promise<LogsAnswer> {
    return this.ask(QueryService.endpoints.logs.subject, q);
  }
  environment(q: EnvironmentQuery): Promise<EnvironmentAnswer> {
    return this.ask(QueryService.endpoints.environment.subject, q);
  }
}
