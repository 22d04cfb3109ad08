import { Contracts } from "../bus/contracts.ts";
import type { Publisher } from "../bus/publish.ts";
import type { ErrorKind } from "../bus/schemas.ts";
import type { BridgeCore } from "./core.ts";
import { queuesMessage, readPartitions } from "./partitions.ts";

/**
 * What the bridge tells the others about itself: its counters (stats), a
 * `bridge.heartbeat.<cluster>` carrying them every few seconds, and the cluster's
 * partitions as queues on `cluster.queues` (at start, then now and then).
 */

export interface SlurmBridgeStats {
  sbatch_calls: number;
  sacct_calls: number;
  squeue_calls: number;
  scancel_calls: number;
  scontrol_calls: number;
  sbatch_failures: number;
  sacct_failures: number;
  poll_cycles: number;
  poll_interval_ms: number;
  batches: number;
  parts_submitted: number;
  parts_adopted: number;
  live_instances: number;
  max_array_size: number;
  reported: Record<"done" | ErrorKind, number>;
}

export function bridgeStats(core: BridgeCore): SlurmBridgeStats {
  const { cmds, counters } = core;
  return {
    sbatch_calls: cmds.calls.sbatch,
    sacct_calls: cmds.calls.sacct,
    squeue_calls: cmds.calls.squeue,
    scancel_calls: cmds.calls.scancel,
    scontrol_calls: cmds.calls.scontrol,
    sbatch_failures: cmds.failures.sbatch,
    sacct_failures: cmds.failures.sacct,
    poll_cycles: counters.pollCycles,
    poll_interval_ms: core.pollIntervalMs(),
    batches: counters.batches,
    parts_submitted: counters.partsSubmitted,
    parts_adopted: counters.partsAdopted,
    live_instances: core.state.liveCount,
    max_array_size: core.maxArraySize,
    reported: { ...core.reported },
  };
}

/** The heartbeat; a missed one is only logged (the next comes soon). */
async function beat(core: BridgeCore, id: string, publish: Publisher["publish"]): Promise<void> {
  const { reported, ...flat } = bridgeStats(core);
  const counters = {
    ...flat,
    ...Object.fromEntries(Object.entries(reported).map(([k, v]) => [`reported_${k}`, v])),
  };
  try {
    await publish(Contracts.bridgeHeartbeat, {
      v: 1,
      cluster: core.cluster,
      bridge_id: id,
      live_instances: core.state.liveCount,
      counters,
    });
  } catch (err) {
    core.log.debug({ err }, "bridge heartbeat not published");
  }
}

type QueueSource = Pick<BridgeCore, "cluster" | "cmds" | "log">;

/** Publishes the partitions as queues; logs them when they changed since the last time. */
function queuesPublisher(source: QueueSource, publish: Publisher["publish"]): () => Promise<void> {
  let last = "";
  return async () => {
    try {
      const message = queuesMessage(source.cluster, await readPartitions(source.cmds));
      await publish(Contracts.clusterQueues, message);
      const text = JSON.stringify(message.queues);
      if (text !== last)
        source.log.info({ queues: message.queues }, "partitions published as queues");
      last = text;
    } catch (err) {
      source.log.warn({ err }, "partitions not published; trying again later");
    }
  };
}

/**
 * The cluster's partitions as queues, now (awaited) and every `refreshMs`, without a
 * bridge: what a login node's supervisor announces, so that people can submit to the
 * cluster before any bridge of theirs has run.
 */
export async function announceQueues(
  source: QueueSource,
  publish: Publisher["publish"],
  refreshMs = 600_000,
): Promise<{ stop(): void }> {
  const publishQueues = queuesPublisher(source, publish);
  await publishQueues();
  const timer = setInterval(() => void publishQueues(), refreshMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export interface AnnounceOptions {
  bridgeHeartbeatMs?: number | undefined;
  queuesRefreshMs?: number | undefined;
  /**
   * Whether this bridge announces the partitions. A person may not (their permissions
   * refuse `cluster.queues`, and the publish would be retried forever): on a site the
   * login node's supervisor does it for everyone.
   */
  announceQueues?: boolean | undefined;
}

/** Queues now (awaited), a heartbeat now, then both on their timers until stopped. */
export async function startAnnouncing(
  core: BridgeCore,
  id: string,
  publish: Publisher["publish"],
  options: AnnounceOptions,
): Promise<{ stop(): void }> {
  const publishQueues =
    options.announceQueues === false ? async () => {} : queuesPublisher(core, publish);
  await publishQueues();
  void beat(core, id, publish);
  const beatTimer = setInterval(
    () => void beat(core, id, publish),
    options.bridgeHeartbeatMs ?? 5000,
  );
  const queuesTimer = setInterval(() => void publishQueues(), options.queuesRefreshMs ?? 600_000);
  beatTimer.unref();
  queuesTimer.unref();
  return {
    stop() {
      clearInterval(beatTimer);
      clearInterval(queuesTimer);
    },
  };
}
