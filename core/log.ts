import { type Logger, pino, stdSerializers } from "pino";
import { redactUrls } from "./redact.ts";

export type { Logger };

/**
 * The one root logger of a process. Functions and handlers take child loggers bound to
 * their name and the ids they work on; messages are constant strings, data goes in fields.
 */
export function createLogger(options: { name: string; level?: string }): Logger {
  return pino({
    name: options.name,
    level: options.level ?? process.env.DROVER_LOG_LEVEL ?? "info",
    base: { pid: process.pid },
    redact: { paths: ["databaseUrl", "*.databaseUrl", "password"], remove: true },
    // A URL with a password (in an error, a field) is printed with *** in its place.
    serializers: { err: redactedError },
    formatters: { log: redactedFields },
  });
}

function redactedError(err: Error): Record<string, unknown> {
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const k of ["message", "stack"] as const) {
    if (typeof out[k] === "string") out[k] = redactUrls(out[k]);
  }
  return out;
}

/** Top-level string fields holding a URL, redacted (the rest is left as it is, for speed). */
function redactedFields(obj: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === "string" && v.includes("://")) obj[k] = redactUrls(v);
  }
  return obj;
}

/** A logger that drops everything: for tests and library code that was given none. */
export const silentLogger: Logger = pino({ level: "silent" });
