import type { Reporter } from "./reporter.ts";

/**
 * The instances a bridge holds (queued for a slot, running, or sleeping on `dummy`) and
 * their heartbeats: ONE `ti.heartbeat` message lists every instance that is due. Each
 * launch batch names its own `heartbeat_seconds`; instances sharing a period share a
 * clock, and when one clock is due the others that would be due within half their period
 * are sent along (an early heartbeat is harmless, an extra message is not free).
 */
export class LiveSet {
  private readonly groups = new Map<number, { ids: Set<number>; due: number }>();
  private readonly periodOf = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly reporter: Reporter,
    private readonly tickMs = 250,
  ) {}

  get size(): number {
    return this.periodOf.size;
  }

  has(id: number): boolean {
    return this.periodOf.has(id);
  }

  add(id: number, heartbeatSeconds: number, now = Date.now()): void {
    if (this.periodOf.has(id)) return;
    const period = Math.max(100, Math.round(heartbeatSeconds * 1000));
    let group = this.groups.get(period);
    if (!group) {
      group = { ids: new Set(), due: now + period };
      this.groups.set(period, group);
    }
    group.ids.add(id);
    this.periodOf.set(id, period);
  }

  remove(id: number): void {
    const period = this.periodOf.get(id);
    if (period === undefined) return;
    this.periodOf.delete(id);
    const group = this.groups.get(period);
    group?.ids.delete(id);
    if (group && group.ids.size === 0) this.groups.delete(period);
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends the heartbeats that are due at `now` (the timer calls this). */
  tick(now = Date.now()): void {
    let anyDue = false;
    for (const group of this.groups.values()) if (group.due <= now) anyDue = true;
    if (!anyDue) return;
    const ids: number[] = [];
    for (const [period, group] of this.groups) {
      if (group.due > now + period / 2) continue;
      for (const id of group.ids) ids.push(id);
      group.due = now + period;
    }
    this.reporter.reportHeartbeat(ids);
  }
}
