import type { NatsConnection } from "@nats-io/nats-core";
import {
  CommandSubjects,
  type ConcurrencyAnswer,
  type ConcurrencyCommand,
  type ResumeAnswer,
  type ResumeCommand,
  type SetStatusAnswer,
  type SetStatusCommand,
  type StopAnswer,
  type StopCommand,
} from "../bus/commands.ts";

/** A command the service refused (unknown id, wrong state), with its reason. */
export class CommandRefused extends Error {
  override name = "CommandRefused";
}

/** State-changing commands; each returns once the change is committed. */
export class Commands {
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 30_000,
  ) {}

  private async send<T>(subject: string, body: unknown): Promise<T> {
    let reply: { json<U>(): U };
    try {
      reply = await this.nc.request(subject, JSON.stringify(body), { timeout: this.timeoutMs });
    } catch (err) {
      const message = (err as Error).message;
      throw new Error(
        /no responders/i.test(message)
          ? "no Drover command service answers on this NATS: is the stack running (drover up)?"
          : `${subject} failed: ${message}`,
        { cause: err },
      );
    }
    const answer = reply.json<T | { error: string }>();
    if (answer && typeof answer === "object" && "error" in answer) {
      throw new CommandRefused((answer as { error: string }).error);
    }
    return answer as T;
  }

  stop(c: StopCommand): Promise<StopAnswer> {
    return this.send(CommandSubjects.stop, c);
  }
  resume(c: ResumeCommand): Promise<ResumeAnswer> {
    return this.send(CommandSubjects.resume, c);
  }
  concurrency(c: ConcurrencyCommand): Promise<ConcurrencyAnswer> {
    return this.send(CommandSubjects.concurrency, c);
  }
  setStatus(c: SetStatusCommand): Promise<SetStatusAnswer> {
    return this.send(CommandSubjects.setStatus, c);
  }
}
