// Progress while waiting for a workflow: a live bar on a terminal, plain lines otherwise.
import type { WorkflowAnswer } from "../bus/queries.ts";
import { limitNote } from "./render.ts";

const WIDTH = 30;
const color = (code: number, text: string) => `\u001b[${code}m${text}\u001b[0m`;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Tracks the rate of completion over the last minute, for rate and ETA. */
export class ProgressTracker {
  private samples: { at: number; finished: number }[] = [];

  update(view: WorkflowAnswer, now = Date.now()): { rate: number; eta: number } {
    const finished = (view.counts.DONE ?? 0) + (view.counts.ERROR_FATAL ?? 0);
    this.samples.push({ at: now, finished });
    while (this.samples.length > 2 && now - this.samples[0]!.at > 60_000) this.samples.shift();
    const first = this.samples[0]!;
    const rate = now > first.at ? ((finished - first.finished) * 1000) / (now - first.at) : 0;
    return { rate, eta: rate > 0 ? (view.total - finished) / rate : Infinity };
  }
}

/** One line with a bar: done (green), failed (red), running (yellow), the rest. */
export function progressBar(
  view: WorkflowAnswer,
  rate: number,
  eta: number,
  colour: boolean,
): string {
  const c = view.counts;
  const total = Math.max(1, view.total);
  const done = c.DONE ?? 0;
  const failed = c.ERROR_FATAL ?? 0;
  const running = (c.RUNNING ?? 0) + (c.LAUNCHED ?? 0);
  const queued = (c.QUEUED ?? 0) + (c.INSTANTIATING ?? 0);
  const retrying = (c.ERROR_RECOVERABLE ?? 0) + (c.ADJUSTING_RESOURCES ?? 0);
  const cells = (n: number) => Math.round((n / total) * WIDTH);
  const d = cells(done);
  const f = Math.min(WIDTH - d, cells(failed));
  const r = Math.min(WIDTH - d - f, cells(running));
  const rest = WIDTH - d - f - r;
  const bar = colour
    ? color(32, "█".repeat(d)) +
      color(31, "█".repeat(f)) +
      color(33, "▒".repeat(r)) +
      "·".repeat(rest)
    : "#".repeat(d) + "x".repeat(f) + "~".repeat(r) + ".".repeat(rest);
  const pct = `${Math.floor((100 * (done + failed)) / total)}%`.padStart(4);
  const parts = [
    `${done}/${view.total} done`,
    `${running} running`,
    `${queued} queued`,
    retrying > 0 ? `${retrying} retrying` : "",
    failed > 0 ? (colour ? color(31, `${failed} failed`) : `${failed} failed`) : "",
    `${rate.toFixed(rate < 10 ? 1 : 0)}/s`,
    `ETA ${formatDuration(eta)}`,
    limitNote(view.limits),
  ].filter(Boolean);
  return `[${bar}] ${pct}  ${parts.join("  ")}`;
}
