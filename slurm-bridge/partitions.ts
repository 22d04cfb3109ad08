import type { ClusterQueues, QueueLimits } from "../bus/schemas.ts";
import type { SlurmCommands } from "./commands.ts";
import { parseElapsed } from "./sacct.ts";

/**
 * The cluster's partitions as Drover queues with their limits, read from
 * `scontrol show partition -o` and `scontrol show node -o` (a partition cannot give a
 * task more cores or memory than its biggest node has), published on `cluster.queues`
 * for register-queues to record (the bridge has no database). The default partition
 * comes first: the first queue a cluster registers is its default queue.
 */

/** `Key=Value` fields of one `-o` line. */
export function fields(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of line.matchAll(/(?:^|\s)([A-Za-z][\w:]*)=(\S*)/g)) out.set(m[1]!, m[2]!);
  return out;
}

const unlimited = (v: string | undefined) =>
  v === undefined || v === "" || /^(UNLIMITED|INFINITE|NONE|N\/A|0)$/i.test(v);

interface NodeSize {
  cpus: number;
  memoryMiB: number;
  partitions: string[];
}

export function parseNodes(text: string): NodeSize[] {
  const nodes: NodeSize[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes("NodeName=")) continue;
    const f = fields(line);
    nodes.push({
      cpus: Number(f.get("CPUTot") ?? f.get("CPUEfctv") ?? 0),
      memoryMiB: Number(f.get("RealMemory") ?? 0),
      partitions: (f.get("Partitions") ?? "").split(",").filter(Boolean),
    });
  }
  return nodes;
}

const minDefined = (...values: (number | null)[]) => {
  const known = values.filter((v): v is number => v !== null && v > 0);
  return known.length > 0 ? Math.min(...known) : null;
};

export function parsePartitions(partitionText: string, nodeText = ""): QueueLimits[] {
  const nodes = parseNodes(nodeText);
  const queues: { q: QueueLimits; isDefault: boolean }[] = [];
  for (const line of partitionText.split("\n")) {
    if (!line.includes("PartitionName=")) continue;
    const f = fields(line);
    const name = f.get("PartitionName")!;
    const mine = nodes.filter((n) => n.partitions.includes(name));
    const biggestCpus = mine.length > 0 ? Math.max(...mine.map((n) => n.cpus)) : null;
    const biggestMem = mine.length > 0 ? Math.max(...mine.map((n) => n.memoryMiB)) : null;
    const maxCpus = unlimited(f.get("MaxCPUsPerNode")) ? null : Number(f.get("MaxCPUsPerNode"));
    const maxMem = unlimited(f.get("MaxMemPerNode")) ? null : Number(f.get("MaxMemPerNode"));
    const maxTime = unlimited(f.get("MaxTime")) ? undefined : parseElapsed(f.get("MaxTime")!);
    const memMiB = minDefined(maxMem, biggestMem);
    queues.push({
      isDefault: f.get("Default") === "YES",
      q: {
        name,
        max_cores: minDefined(maxCpus, biggestCpus),
        max_memory_bytes: memMiB === null ? null : memMiB * 1024 ** 2,
        max_runtime_seconds: maxTime === undefined ? null : Math.round(maxTime),
      },
    });
  }
  // Stable: the default first, then scontrol's order.
  return [...queues.filter((x) => x.isDefault), ...queues.filter((x) => !x.isDefault)].map(
    (x) => x.q,
  );
}

export async function readPartitions(cmds: SlurmCommands): Promise<QueueLimits[]> {
  const partitions = await cmds.ok("scontrol", ["show", "partition", "-o"]);
  const nodes = await cmds.ok("scontrol", ["show", "node", "-o"]);
  return parsePartitions(partitions, nodes);
}

export function queuesMessage(cluster: string, queues: QueueLimits[]): ClusterQueues {
  return { v: 1, cluster, kind: "slurm", queues };
}
