import { z } from "zod";
import { answers, endpoint, service } from "./contract.ts";

/**
 * A task's log file read by its owner's bridge, which can read it where the asker
 * cannot (a site's GUI runs as a service account; the files are the owner's, 0600, on
 * their hosts). Core NATS request/reply on `logs.<owner>.<cluster>`: only the owner's
 * bridges of that cluster listen, and only the owner, the GUI and the functions may ask
 * (bus/permissions.ts); whoever asks for someone else has checked that they may (the GUI
 * asks the query service as the person first). A bridge reads only files under its own
 * log folders.
 */

/** The most one answer carries: well under NATS's 1 MB payload in base64. */
export const LOG_READ_MAX_BYTES = 256 * 1024;

export const LogRead = z.object({
  /** the file, as the instance's report gave it */
  path: z.string().min(1).max(4096),
  /** from this byte; absent: the last `max_bytes` */
  start: z.number().int().nonnegative().optional(),
  max_bytes: z.number().int().positive().max(LOG_READ_MAX_BYTES),
});
export type LogRead = z.infer<typeof LogRead>;

export interface LogReadAnswer {
  /** the bytes read, in base64: a slice may cut a UTF-8 character, decoded by the asker */
  base64: string;
  start: number;
  end: number;
  size: number;
}

export const BridgeLogService = service({
  name: "bridge-logs",
  subjects: "logs.*.*",
  queue: "bridge-logs",
  endpoints: {
    read: endpoint({ subject: "logs.*.*", request: LogRead, ...answers<LogReadAnswer>() }),
  },
});

/** The subject of an owner's bridge of a cluster. */
export function logsSubject(owner: string, cluster: string): string {
  return `logs.${owner}.${cluster}`;
}
