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
import { requestJson } from "./request.ts";

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

  private send<T>(subject: string, body: unknown): Promise<T> {
    return requestJson<T>(this.nc, subject, body, {
      timeoutMs: this.timeoutMs,
      service: "command",
      refused: (message) => new CommandRefused(message),
    });
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
