import { createInterface } from "node:readline";
import { type LaunchRequest, spawnCommand, watchChild } from "./launch.ts";

/**
 * The spawner: a small process that starts commands for the local bridge. Node forks
 * for every spawn, and a fork costs in proportion to the size of the process that forks.
 * The bridge holds the NATS client, its queues and its reports; this process holds
 * nothing, so its spawns cost a fraction of the bridge's.
 *
 * Its standard input carries one request a line: `{"id":N, ...LaunchRequest}`. Its
 * standard output answers each with `{"id":N,"pid":P}` or `{"id":N,"error":"…"}`, then,
 * for a started one, `{"id":N,"code":C,"signal":S}` when it exits. When its input ends
 * (the bridge stopped, or was killed), the commands still running are killed, as the
 * bridge's own stop would: their tasks are retried, and none runs twice at once.
 * Interrupts meant for the terminal's process group are left to the bridge.
 */

const running = new Map<number, number>();

function send(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function handle(line: string): void {
  let request: LaunchRequest & { id: number };
  try {
    request = JSON.parse(line);
  } catch {
    return; // only the bridge writes here; a torn line has no id to answer
  }
  const { id } = request;
  const spawned = spawnCommand(request);
  if ("error" in spawned) {
    send({ id, error: spawned.error });
    return;
  }
  const { started, ended } = watchChild(spawned.child);
  void started.then((start) => {
    if ("error" in start) {
      send({ id, error: start.error });
      return;
    }
    running.set(id, start.pid);
    send({ id, pid: start.pid });
    void ended.then(({ code, signal }) => {
      running.delete(id);
      send({ id, code, signal });
    });
  });
}

function endAll(): void {
  for (const pid of running.values()) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // its group is gone
    }
  }
  process.exit(0);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});
const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
lines.on("line", handle);
lines.on("close", endAll);
// The bridge reading our answers is gone: nothing can be reported, so stop as above.
process.stdout.on("error", endAll);
