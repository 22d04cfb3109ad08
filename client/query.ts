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
} from "../bus/queries.ts";

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

  private async ask<T>(subject: string, body: unknown): Promise<T> {
    let reply: { json<U>(): U };
    try {
      reply = await this.nc.request(subject, JSON.stringify(body), { timeout: this.timeoutMs });
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(
        /no responders/i.test(message)
          ? "no Drover query service answers on this NATS: is the stack running (drover up)?"
          : `query ${subject} failed: ${message}`,
        { cause: err },
      );
    }
    const answer = reply.json<T | { error: string }>();
    if (answer && typeof answer === "object" && "error" in answer) {
      throw new QueryFailed((answer as { error: string }).error);
    }
    return answer as T;
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
}
