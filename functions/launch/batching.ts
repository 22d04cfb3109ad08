/**
 * Groups instantiated tasks into launch batches: one per (cluster, queue, cores, memory,
 * runtime, project, array), each capped by count and by the bytes of its LaunchBatch
 * message (NATS refuses payloads over 1 MB by default; commands can be long).
 */
import type { LaunchRow } from "../../store/launch.ts";

export interface PlannedBatch {
  rows: LaunchRow[];
}

export interface BatchCaps {
  maxCount: number;
  maxBytes: number;
}

export const DEFAULT_BATCH_CAPS: BatchCaps = { maxCount: 1000, maxBytes: 900_000 };

/** Bytes of the batch envelope (ids, cluster, queue, resources) apart from its instances. */
const ENVELOPE_BYTES = 1024;

/** An upper bound of one instance's bytes in the LaunchBatch JSON. */
export function instanceBytes(row: LaunchRow): number {
  // {"id":…,"task_id":…,"step":…,"attempt":…,"name":…,"command":…}: ~90 bytes of keys and
  // numbers besides the two strings, as JSON (escapes included).
  return (
    Buffer.byteLength(JSON.stringify(row.name)) +
    Buffer.byteLength(JSON.stringify(row.command)) +
    (row.env ? Buffer.byteLength(JSON.stringify(row.env)) + 8 : 0) +
    (row.working_dir ? Buffer.byteLength(JSON.stringify(row.working_dir)) + 16 : 0) +
    96
  );
}

function groupKey(r: LaunchRow): string {
  return [
    r.cluster_id,
    r.queue_id,
    r.cores,
    r.memory_bytes,
    r.runtime_seconds,
    r.project ?? "",
    r.array_id,
  ].join("\u0000");
}

/**
 * Batches in a deterministic order (by first task id), rows in task id order. A single
 * row bigger than the byte cap still gets a batch of its own: refusing it here would
 * strand its task; one too large for any message fails its task when it is published
 * (functions/owners.ts).
 */
export function planBatches(
  rows: readonly LaunchRow[],
  caps: BatchCaps = DEFAULT_BATCH_CAPS,
  /** bytes a batch of this array carries besides its instances (its environment) */
  arrayBytes: (arrayId: number) => number = () => 0,
): PlannedBatch[] {
  const groups = new Map<string, LaunchRow[]>();
  for (const r of [...rows].sort((a, b) => a.id - b.id)) {
    const key = groupKey(r);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const batches: PlannedBatch[] = [];
  for (const group of groups.values()) {
    let current: LaunchRow[] = [];
    const envelope = ENVELOPE_BYTES + arrayBytes(group[0]!.array_id);
    let bytes = envelope;
    for (const r of group) {
      const size = instanceBytes(r);
      if (current.length > 0 && (current.length >= caps.maxCount || bytes + size > caps.maxBytes)) {
        batches.push({ rows: current });
        current = [];
        bytes = envelope;
      }
      current.push(r);
      bytes += size;
    }
    if (current.length > 0) batches.push({ rows: current });
  }
  return batches.sort((a, b) => a.rows[0]!.id - b.rows[0]!.id);
}
