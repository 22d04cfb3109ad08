import type { NatsConnection } from "@nats-io/nats-core";
import {
  CommandService,
  type ConcurrencyAnswer,
  type ConcurrencyCommand,
  type ReleaseAnswer,
  type ReleaseCommand,
  type ResetAnswer,
  type ResetCommand,
  type ResumeAnswer,
  type ResumeCommand,
  type SetStatusAnswer,
  type SetStatusCommand,
  type StopAnswer,
  type StopCommand,
  type TaskAttributesAnswer,
  type TaskAttributesCommand,
} from "../bus/commands.ts";
import { connectionToken } from "../bus/connect.ts";
import { fillToken } from "../bus/contract.ts";
import { requestJson } from "./request.ts";

/** A command the service refused (unknown id, wrong state), with its reason. */
export class CommandRefused extends Error {
  override name = "CommandRefused";
}

/** State-changing commands; each returns once the change is committed. */
export class Commands {
  constructor(
    private readonly nc: NatsConnection,
    /** who asks: the connection's own token (the GUI names the person it acts for) */
    private readonly caller = connectionToken(nc),
    private readonly timeoutMs = 30_000,
  ) {}

  private send<T>(subject: string, body: unknown): Promise<T> {
    return requestJson<T>(this.nc, fillToken(subject, this.caller), body, {
      timeoutMs: this.timeoutMs,
      service: "command",
      refused: (message) => new CommandRefused(message),
    });
  }

  stop(c: StopCommand): Promise<StopAnswer> {
    return this.send(CommandService.endpoints.stop.subject, c);
  }
  resume(c: ResumeCommand): Promise<ResumeAnswer> {
    return this.send(CommandService.endpoints.resume.subject, c);
  }
  concurrency(c: ConcurrencyCommand): Promise<ConcurrencyAnswer> {
    return this.send(CommandService.endpoints.concurrency.subject, c);
  }
  setStatus(c: SetStatusCommand): Promise<SetStatusAnswer> {
    return this.send(CommandService.endpoints.setStatus.subject, c);
  }
  release(c: ReleaseCommand): Promise<ReleaseAnswer> {
    return this.send(CommandService.endpoints.release.subject, c);
  }
  reset(c: ResetCommand): Promise<ResetAnswer> {
    return this.send(CommandService.endpoints.reset.subject, c);
  }
  addTaskAttributes(c: TaskAttributesCommand): Promise<TaskAttributesAnswer> {
    return this.send(CommandService.endpoints.taskAttributes.subject, c);
  }
}
