import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import { type SlurmBridge, startSlurmBridge } from "./bridge.ts";
import { bridgeOptions, loadSlurmSettings } from "./options.ts";

/**
 * For `drover up`: the slurm-bridge joins the local stack when this host can submit to a
 * Slurm cluster, i.e. `sbatch` is on the PATH and `scontrol ping` answers.
 */

export function onPath(program: string, path = process.env.PATH ?? ""): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function slurmAnswers(): boolean {
  if (!onPath("sbatch")) return false;
  const ping = spawnSync("scontrol", ["ping"], { encoding: "utf8", timeout: 15_000 });
  return ping.status === 0 && /\bUP\b/.test(ping.stdout);
}

/**
 * Starts the bridge when Slurm answers; undefined (and a log line saying why) otherwise.
 * A bridge that fails to start does not keep the rest of the stack from running.
 */
export async function startSlurmBridgeIfAvailable(
  nc: NatsConnection,
  log: Logger,
  config: Config,
): Promise<SlurmBridge | undefined> {
  if (!slurmAnswers()) {
    log.info(
      "no Slurm here (sbatch not on the PATH or scontrol ping not answering): no slurm-bridge",
    );
    return undefined;
  }
  return startSlurmBridge({ nc, log, ...bridgeOptions(config, loadSlurmSettings(config)) }).catch(
    (err: Error) => {
      log.error({ err }, "slurm-bridge not started");
      return undefined;
    },
  );
}
