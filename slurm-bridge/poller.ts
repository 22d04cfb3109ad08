/**
 * The adaptive poll interval (SLURM.md: start short, back off toward a ceiling while
 * nothing changes, reset on activity) and the loop that runs one poll cycle per tick.
 * `kick()` (a new submission, a kill order) resets the interval to its minimum.
 */

export class AdaptiveInterval {
  private currentMs: number;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    readonly factor = 1.5,
  ) {
    if (!(minMs > 0) || maxMs < minMs) throw new Error("poll interval: need 0 < min <= max");
    this.currentMs = minMs;
  }

  get ms(): number {
    return this.currentMs;
  }

  /** Something changed: poll again soon. */
  activity(): void {
    this.currentMs = this.minMs;
  }

  /** Nothing changed (or the poll failed): wait longer next time. */
  quiet(): void {
    this.currentMs = Math.min(this.maxMs, Math.round(this.currentMs * this.factor));
  }
}

export interface PollerOptions {
  minMs: number;
  maxMs: number;
  factor?: number;
  /** one poll; resolves true when something changed */
  cycle(): Promise<boolean>;
  onError(err: unknown): void;
}

export class Poller {
  readonly interval: AdaptiveInterval;
  private wake: (() => void) | undefined;
  private stopped = false;
  private lastEnd = Date.now();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: PollerOptions) {
    this.interval = new AdaptiveInterval(options.minMs, options.maxMs, options.factor);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Something happened (a submission, a kill order): the next cycle comes the shortest
   * interval after the last one, not later. Many kicks in a row still poll once.
   */
  kick(): void {
    this.interval.activity();
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async sleepUntilDue(): Promise<void> {
    while (!this.stopped) {
      const wait = this.lastEnd + this.interval.ms - Date.now();
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.sleepUntilDue();
      if (this.stopped) break;
      try {
        if (await this.options.cycle()) this.interval.activity();
        else this.interval.quiet();
      } catch (err) {
        this.interval.quiet();
        this.options.onError(err);
      }
      this.lastEnd = Date.now();
    }
  }
}
