import type { NatsConnection } from "@nats-io/nats-core";
import {
  type ErrorsAnswer,
  type ErrorsQuery,
  QuerySubjects,
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
    private readonly timeoutMs = 10_000,
  ) {}

  private ask<T>(subject: string, body: unknown): Promise<T> {
    return requestJson<T>(this.nc, subject, body, {
      timeoutMs: this.timeoutMs,
      service: "query",
      refused: (message) => new QueryFailed(message),
    });
  }

  workflow(q: WorkflowQuery): Promise<WorkflowAnswer> {
    return this.ask(QuerySubjects.workflow, q);
  }
  tasks(q: TasksQuery): Promise<TasksAnswer> {
    return this.ask(QuerySubjects.tasks, q);
  }
  task(q: TaskQuery): Promise<TaskAnswer> {
    return this.ask(QuerySubjects.task, q);
  }
  errors(q: ErrorsQuery): Promise<ErrorsAnswer> {
    return this.ask(QuerySubjects.errors, q);
  }
  workflows(q: WorkflowsQuery = {}): Promise<WorkflowsAnswer> {
    return this.ask(QuerySubjects.workflows, q);
  }
}
