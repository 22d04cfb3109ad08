// The GUI's buttons: each POST becomes one request on a command subject (bus/commands.ts),
// answered by the command service after its change committed. The GUI changes nothing
// itself (its database role cannot), so there is one code path for the CLI and the GUI.
import type { NatsConnection } from "@nats-io/nats-core";
import { z } from "zod";
import { CommandService } from "../bus/commands.ts";
import { fillToken } from "../bus/contract.ts";
import { HttpError } from "./http.ts";

const TIMEOUT_MS = 15_000;

export type Action = keyof typeof CommandService.endpoints;

export const NO_COMMAND_SERVICE =
  "no Drover command service answers on this NATS: stop, resume, concurrency and " +
  "set-status need it (is the stack running? start it with 'drover up')";

/**
 * Validates `body` against the command's schema (the path's id merged in), sends it and
 * returns the answer. No responder → 503; no answer in time → 504; an answer with
 * `{ error }` → 404 when it names an unknown id, else 409 (wrong state).
 */
export async function runAction(
  nc: NatsConnection,
  action: Action,
  body: Record<string, unknown>,
  /** the person it is sent as (auth.ts) */
  caller: string,
): Promise<unknown> {
  const { request } = CommandService.endpoints[action];
  const subject = fillToken(CommandService.endpoints[action].subject, caller);
  const parsed = (request as z.ZodType).safeParse(body);
  if (!parsed.success) {
    throw new HttpError(
      400,
      `invalid ${action} request: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`,
    );
  }
  let reply: { json<T>(): T };
  try {
    reply = await nc.request(subject, JSON.stringify(parsed.data), { timeout: TIMEOUT_MS });
  } catch (err) {
    const message = (err as Error).message;
    if (/no responders|503/i.test(message) || (err as { code?: string }).code === "503") {
      throw new HttpError(503, NO_COMMAND_SERVICE, { cause: err });
    }
    if (/timeout/i.test(message)) {
      throw new HttpError(
        504,
        `the command service did not answer ${action} within ${TIMEOUT_MS / 1000} s`,
        { cause: err },
      );
    }
    throw new HttpError(502, `${action} failed on the bus: ${message}`, { cause: err });
  }
  let answer: unknown;
  try {
    answer = reply.json();
  } catch {
    throw new HttpError(502, `the command service's answer to ${action} is not JSON`);
  }
  if (answer && typeof answer === "object" && "error" in answer) {
    const error = String((answer as { error: unknown }).error);
    throw new HttpError(/does not exist|unknown/i.test(error) ? 404 : 409, error);
  }
  return answer;
}
