import type { NatsConnection } from "@nats-io/nats-core";
import {
  LOG_READ_MAX_BYTES,
  type LogRead,
  type LogReadAnswer,
  logsSubject,
} from "../bus/bridge-logs.ts";
import { requestJson } from "./request.ts";

/**
 * A slice of a task's log file, read by its owner's bridge of its cluster (which runs as
 * the owner, where the files are). Throws with a message a person can act on when no
 * such bridge answers or it refuses.
 */
export async function readLogViaBridge(
  nc: NatsConnection,
  place: { owner: string; cluster: string },
  q: LogRead,
): Promise<LogReadAnswer> {
  const subject = logsSubject(place.owner, place.cluster);
  try {
    return await requestJson<LogReadAnswer>(
      nc,
      subject,
      { ...q, max_bytes: Math.min(q.max_bytes, LOG_READ_MAX_BYTES) },
      { timeoutMs: 10_000, service: "bridge", refused: (message) => new Error(message) },
    );
  } catch (err) {
    const message = (err as Error).message;
    throw new Error(
      /no Drover bridge service/.test(message)
        ? `no bridge of its owner for cluster ${place.cluster} is running to read it`
        : `its owner's bridge could not read it: ${message}`,
      { cause: err },
    );
  }
}
