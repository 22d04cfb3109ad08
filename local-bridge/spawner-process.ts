import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { packagePath } from "../core/package-root.ts";
import type { Ended, LaunchedProcess, Launcher, LaunchRequest, Started } from "../worker/launch.ts";
import type { MiniLog } from "../worker/reporter.ts";

/** The spawner, bundled with the worker (scripts/build-worker.mjs): plain node, no tsx. */
export const SPAWNER_BUNDLE = packagePath("dist/drover-spawner.mjs");

/** What a command whose exit went unseen is reported as: it runs again. */
export const SPAWNER_STOPPED = "the bridge's spawner process stopped";

interface Waiting {
  started: (s: Started) => void;
  ended: (e: Ended) => void;
  pid?: number;
}

/**
 * Starts commands through the spawner process (worker/spawner.ts), started on first use
 * and again after it stops. Commands it started and whose exits it can no longer report
 * end as lost (their tasks run again); their process groups are killed by the spawner as
 * it stops, or here if it was killed.
 */
export class SpawnerProcess implements Launcher {
  private child: ChildProcess | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  constructor(
    private readonly log: MiniLog,
    private readonly script = SPAWNER_BUNDLE,
  ) {}

  /** the spawner's pid while it runs */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  launch(request: LaunchRequest): LaunchedProcess {
    const id = this.nextId++;
    let waiting!: Waiting;
    const started = new Promise<Started>((resolveStarted) => {
      waiting = { started: resolveStarted, ended: () => {} };
    });
    const ended = new Promise<Ended>((resolveEnded) => {
      waiting.ended = resolveEnded;
    });
    this.waiting.set(id, waiting);
    this.running().stdin?.write(`${JSON.stringify({ id, ...request })}\n`);
    return { started, ended };
  }

  /** Ends the spawner once nothing runs through it; what still runs is killed by it. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.stdin?.end();
    await gone;
  }

  private running(): ChildProcess {
    if (this.child) return this.child;
    const child = spawn(process.execPath, [this.script], {
      stdio: ["pipe", "pipe", "inherit"],
      // Nothing of the bridge's environment (the service's settings): the spawner is the
      // parent of every command, and a command may read its parent's environment.
      env: {},
    });
    this.child = child;
    child.stdin?.on("error", () => {}); // a spawner that died: handled on "exit"
    createInterface({ input: child.stdout!, crlfDelay: Number.POSITIVE_INFINITY }).on(
      "line",
      (line) => this.answer(line),
    );
    child.once("exit", (code, signal) => this.lost(child, code, signal));
    return child;
  }

  private answer(line: string): void {
    let message: {
      id: number;
      pid?: number;
      error?: string;
      code?: number | null;
      signal?: NodeJS.Signals | null;
    };
    try {
      message = JSON.parse(line);
    } catch {
      this.log.error({ line: line.slice(0, 200) }, "the spawner wrote a line that is not JSON");
      return;
    }
    const waiting = this.waiting.get(message.id);
    if (!waiting) return;
    if (message.error !== undefined) {
      this.waiting.delete(message.id);
      waiting.started({ error: message.error });
    } else if (message.pid !== undefined) {
      waiting.pid = message.pid;
      waiting.started({ pid: message.pid });
    } else {
      this.waiting.delete(message.id);
      waiting.ended({ code: message.code ?? null, signal: message.signal ?? null });
    }
  }

  private lost(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    if (this.waiting.size > 0) {
      this.log.error(
        { code, signal, commands: this.waiting.size },
        "the spawner stopped: the commands it started are reported lost",
      );
    }
    for (const [id, waiting] of this.waiting) {
      this.waiting.delete(id);
      if (waiting.pid === undefined) waiting.started({ error: SPAWNER_STOPPED, lost: true });
      else waiting.ended({ code: null, signal: null, lostTrack: SPAWNER_STOPPED });
    }
  }
}

/** The spawner when its bundle is there; else commands start from the bridge (slower). */
export function commandLauncher(log: MiniLog): SpawnerProcess | undefined {
  if (existsSync(SPAWNER_BUNDLE)) return new SpawnerProcess(log);
  log.warn(
    { bundle: SPAWNER_BUNDLE },
    "no spawner bundle (npm run build:worker): commands are started from the bridge itself, which is slower",
  );
  return undefined;
}
