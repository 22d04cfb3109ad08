// Numbers, sizes, durations, dates and status colours, shown the same way on every page.

// The status lists are the server's own (core/statuses.ts), served as a module.
export { TASK_STATUSES, WORKFLOW_STATUSES } from "./statuses.js";

/** Order of the segments of a status bar: done first, remaining work last. */
export const BAR_ORDER = [
  "DONE",
  "RUNNING",
  "LAUNCHED",
  "INSTANTIATING",
  "QUEUED",
  "ADJUSTING_RESOURCES",
  "ERROR_RECOVERABLE",
  "ERROR_FATAL",
  "REGISTERING",
];

const COLORS = {
  REGISTERING: "#a3afc0",
  QUEUED: "#93c5fd",
  INSTANTIATING: "#60a5fa",
  LAUNCHED: "#3b82f6",
  RUNNING: "#6366f1",
  DONE: "#22a35a",
  ERROR_RECOVERABLE: "#f59e0b",
  ADJUSTING_RESOURCES: "#a855f7",
  ERROR_FATAL: "#e5484d",
  // workflow
  FAILED: "#e5484d",
  HALTED: "#f59e0b",
  ABORTED: "#9f1239",
  // instances
  INSTANTIATED: "#60a5fa",
  ERROR: "#e5484d",
  RESOURCE_ERROR: "#a855f7",
  UNKNOWN_ERROR: "#e5484d",
  NO_HEARTBEAT: "#f59e0b",
  NO_DISTRIBUTOR_ID: "#f59e0b",
  KILL_SELF: "#a3afc0",
};

export function statusColor(status) {
  return COLORS[status] ?? "#a3afc0";
}

/** A short label for legends ("ERROR_RECOVERABLE" stays recognisable as "error recoverable"). */
export function statusLabel(status) {
  return status.toLowerCase().replaceAll("_", " ");
}

const intFormat = new Intl.NumberFormat("en-US");

export function int(n) {
  return n === null || n === undefined ? "–" : intFormat.format(Math.round(n));
}

export function pct(part, total) {
  if (!total) return "0%";
  const p = (part / total) * 100;
  if (p > 0 && p < 0.1) return "<0.1%";
  return `${p >= 10 || Number.isInteger(p) ? Math.floor(p) : p.toFixed(1)}%`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v >= 100 || u === 0 ? 0 : v >= 10 ? 1 : 2;
  return `${Number(v.toFixed(digits))} ${units[u]}`;
}

/** Seconds as "2h 05m", "4m 10s", "12.3s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds < 10 ? Number(seconds.toFixed(2)) : Math.round(seconds)}s`;
  const s = Math.round(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m ${String(sec).padStart(2, "0")}s`;
}

const dateFormat = new Intl.DateTimeFormat("en-GB", {
  year: "numeric",
  month: "short",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function dateTime(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "–";
}

/** "3 min ago" relative to `now` (ms); the absolute date goes in a title. */
export function ago(iso, now = Date.now()) {
  if (!iso) return "–";
  const s = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function rate(perMinute) {
  if (!perMinute) return "0 /min";
  if (perMinute >= 100) return `${int(perMinute)} /min`;
  return `${Number(perMinute.toFixed(perMinute >= 10 ? 1 : 2))} /min`;
}
