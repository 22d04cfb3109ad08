// Reading a task's log file in slices, for `drover logs` and the GUI's log viewer. A
// task's files are its owner's (0600), written where the task ran: whoever reads one
// reads it as themselves on the host they are on, so "not here" and "not yours" are the
// usual failures and each gets its own message.
import { open } from "node:fs/promises";
import { hostname } from "node:os";

/** A file that cannot be read here, with the reason a person can act on. */
export class LogUnreadable extends Error {
  override name = "LogUnreadable";
}

export interface LogSlice {
  /** the bytes read (decode with a streaming TextDecoder when reading on: a slice may cut a character) */
  bytes: Buffer;
  /** where the slice starts and ends in the file, in bytes */
  start: number;
  end: number;
  /** the file's size when it was read */
  size: number;
}

/** Where the file is, for the messages: the host it was written on and its path. */
export interface LogPlace {
  path: string;
  node?: string | null | undefined;
}

/**
 * Reads at most `maxBytes` of the file from `start`; without `start`, its last
 * `maxBytes` (the tail a person looks at first). Throws LogUnreadable when the file is
 * missing or not readable by this process.
 */
export async function readLogSlice(
  place: LogPlace,
  options: { start?: number | undefined; maxBytes: number },
): Promise<LogSlice> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(place.path, "r");
  } catch (err) {
    throw unreadable(place, err);
  }
  try {
    const { size } = await file.stat();
    const start = Math.min(options.start ?? Math.max(0, size - options.maxBytes), size);
    const length = Math.min(options.maxBytes, size - start);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = length > 0 ? await file.read(buffer, 0, length, start) : { bytesRead: 0 };
    return {
      bytes: buffer.subarray(0, bytesRead),
      start,
      end: start + bytesRead,
      size,
    };
  } finally {
    await file.close();
  }
}

/** The error for a file that could not be opened, saying where it is. */
export function unreadable(place: LogPlace, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const elsewhere =
    place.node && place.node !== hostname()
      ? ` it was written on ${place.node}, and this is ${hostname()}: read it there, or on a host that shares that folder`
      : "";
  if (code === "ENOENT") {
    return new LogUnreadable(
      `${place.path} is not on this host:${elsewhere || " it was removed, or was written on another host"}`,
      { cause: err },
    );
  }
  if (code === "EACCES" || code === "EPERM") {
    return new LogUnreadable(
      `${place.path} is not readable here: task logs are readable only by the task's owner`,
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
