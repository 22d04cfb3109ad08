import type { Logger } from "./log.ts";

/**
 * A daemon's way out: on SIGTERM or SIGINT, `stop()` once, then exit 0 (1 if stopping
 * failed). A second signal while stopping exits at once, for an operator who will not
 * wait.
 */
export function stopOnSignals(stop: () => Promise<void>, log?: Logger): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      log?.info({ signal }, "stopping");
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log?.error({ err }, "stop failed");
          process.exit(1);
        },
      );
    });
  }
}
