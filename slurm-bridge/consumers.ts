import type { NatsConnection } from "@nats-io/nats-core";
import { clusterConsumer } from "../bus/consumer.ts";
import { Contracts } from "../bus/contracts.ts";
import { type RunningFunction, startConsumer } from "../bus/runtime.ts";
import type { SlurmBridgeOptions } from "./bridge.ts";
import type { BridgeCore } from "./core.ts";
import { handleKill } from "./kill.ts";
import { handleLaunch } from "./launch.ts";
import { applyLimits } from "./throttle.ts";

/**
 * The bridge's two consumers, on its person's streams: launch batches
 * (`launch.<cluster>.<owner>`, durable `bridge-<cluster>` on DROVER_LAUNCH_<owner>) and
 * orders (`ctl.<cluster>.<owner>.kill|limit`, durable `bridge-<cluster>-ctl` on
 * DROVER_CTL_<owner>), each handing its message to launch.ts, kill.ts or throttle.ts.
 */

type ConsumerOptions = Pick<SlurmBridgeOptions, "concurrency" | "ackWaitMs">;

export function launchConsumer(core: BridgeCore, options: ConsumerOptions) {
  const { cluster } = core;
  // A batch is never dropped for a failure of ours: it is retried until it goes through
  // (the person's consumer keeps it up to BRIDGE_CONSUMER.maxDeliver times).
  return clusterConsumer(Contracts.launch, cluster, core.owner, {
    concurrency: options.concurrency ?? 4,
    ...(options.ackWaitMs ? { ackWaitMs: options.ackWaitMs } : {}),
    handle: async (msg, ctx) => {
      if (msg.data.cluster !== cluster) {
        ctx.log.warn({ cluster: msg.data.cluster }, "launch batch names another cluster");
      }
      await handleLaunch(core, msg.data, ctx.delivery);
    },
  });
}

/** Orders to the bridge: kill instances, a workflow's new limits (throttle.ts). */
export function ordersConsumer(core: BridgeCore) {
  const { cluster } = core;
  return clusterConsumer([Contracts.kill, Contracts.limits], cluster, core.owner, {
    handle: async (msg, ctx) => {
      if (msg.subject === "ctl.*.*.limit") {
        const { workflow_id, limits } = msg.data;
        if (core.state.learnLimits(workflow_id, limits)) await applyLimits(core, workflow_id);
        ctx.log.info({ workflow: workflow_id, limits }, "limit order");
        return;
      }
      const ours = await handleKill(core, msg.data.instance_ids, msg.data.reason);
      ctx.log.info(
        { asked: msg.data.instance_ids.length, ours, reason: msg.data.reason },
        "kill order",
      );
    },
  });
}

/** Both consumers, or neither: one that started is stopped when the other fails. */
export async function startConsumers(
  core: BridgeCore,
  nc: NatsConnection,
  options: ConsumerOptions,
): Promise<RunningFunction[]> {
  const deps = { nc, log: core.log };
  const running: RunningFunction[] = [];
  try {
    running.push(await startConsumer(launchConsumer(core, options), deps));
    running.push(await startConsumer(ordersConsumer(core), deps));
  } catch (err) {
    await Promise.allSettled(running.map((f) => f.stop()));
    throw err;
  }
  return running;
}
