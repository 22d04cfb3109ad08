import { type Logger, pino } from "pino";

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
  });
}

/** A logger that drops everything: for tests and library code that was given none. */
export const silentLogger: Logger = pino({ level: "silent" });
