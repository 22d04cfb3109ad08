import { realpath } from "node:fs/promises";
import { isAbsolute, sep } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { BridgeLogService, logsSubject } from "../bus/bridge-logs.ts";
import { Refused, type RunningService, serve } from "../bus/serve.ts";
import type { Logger } from "../core/log.ts";
import { LogUnreadable, readLogSlice } from "../core/log-file.ts";

/**
 * A bridge's answers to `logs.<owner>.<cluster>` (bus/bridge-logs.ts): slices of the
 * task logs it wrote, read as the person it runs as. Only files under `roots` (its log
 * folders), after resolving links, so that a request cannot make it read anything else
 * of its person's.
 */
export function serveLogs(
  nc: NatsConnection,
  owner: string,
  cluster: string,
  roots: readonly string[],
  log: Logger,
): RunningService {
  return serve(
    nc,
    BridgeLogService,
    {
      read: async (q) => {
        const path = await insideRoots(q.path, roots);
        try {
          const slice = await readLogSlice({ path }, { start: q.start, maxBytes: q.max_bytes });
          const { bytes, ...range } = slice;
          return { ...range, base64: bytes.toString("base64") };
        } catch (err) {
          if (err instanceof LogUnreadable) throw new Refused(err.message);
          throw err;
        }
      },
    },
    log.child({ cluster }),
    logsSubject(owner, cluster),
  );
}

/** The file's real path when it lies under one of `roots`; refused otherwise. */
async function insideRoots(path: string, roots: readonly string[]): Promise<string> {
  if (!isAbsolute(path)) throw new Refused(`${path} is not an absolute path`);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new Refused(`${path} does not exist on this bridge's host`);
  }
  for (const root of roots) {
    const top = await realpath(root).catch(() => undefined);
    if (top !== undefined && (real === top || real.startsWith(top + sep))) return real;
  }
  throw new Refused(`${path} is not a task log of this bridge (under ${roots.join(", ")})`);
}
