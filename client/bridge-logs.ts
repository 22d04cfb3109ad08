import type { NatsConnection } from "@nats-io/nats-core";
import {
  LOG_READ_MAX_BYTES,
  type LogRead,
  type LogReadAnswer,
  logsSubject,
} from "../bus/bridge-logs.ts";
import { type LogPlace, type LogSlice, LogUnreadable, readLogSlice } from "../core/log-file.ts";
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
): Promise<LogSlice> {
  const subject = logsSubject(place.owner, place.cluster);
  try {
    const { base64, ...range } = await requestJson<LogReadAnswer>(
      nc,
      subject,
      { ...q, max_bytes: Math.min(q.max_bytes, LOG_READ_MAX_BYTES) },
      { timeoutMs: 10_000, service: "bridge", refused: (message) => new Error(message) },
    );
    return { ...range, bytes: Buffer.from(base64, "base64") };
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

/** Where a task's log file is and whose bridge wrote it (a query's LogsAnswer). */
export interface LogSource extends LogPlace {
  owner: string | null;
  cluster: string;
}

/**
 * A slice of a task's log file, read on this host when this process may, else by the
 * owner's bridge (`via: "bridge"`). Throws LogUnreadable with both reasons when neither
 * can read it.
 */
export async function readLogAnywhere(
  nc: NatsConnection,
  source: LogSource,
  options: { start?: number | undefined; maxBytes: number },
): Promise<LogSlice & { via?: "bridge" }> {
  try {
    return await readLogSlice(source, options);
  } catch (err) {
    if (!(err instanceof LogUnreadable) || source.owner === null) throw err;
    try {
      const slice = await readLogViaBridge(
        nc,
        { owner: source.owner, cluster: source.cluster },
        { path: source.path, start: options.start, max_bytes: options.maxBytes },
      );
      return { ...slice, via: "bridge" };
    } catch (viaBridge) {
      throw new LogUnreadable(`${err.message}; ${(viaBridge as Error).message}`, {
        cause: viaBridge,
      });
    }
  }
}
