// drover bridge: run the caller's own bridges (local clusters and Slurm), attached.
import { hostname } from "node:os";
import { connectConfigured, connectionToken } from "../../bus/connect.ts";
import { userFromToken } from "../../core/identity.ts";
import { createLogger } from "../../core/log.ts";
import { LOCAL_CLUSTERS, startLocalBridge } from "../../local-bridge/bridge.ts";
import { slurmAnswers } from "../../slurm-bridge/auto.ts";
import { startSlurmBridge } from "../../slurm-bridge/bridge.ts";
import { bridgeOptions, loadSlurmSettings } from "../../slurm-bridge/options.ts";
import { CliError, defineCommand, UsageError } from "../args.ts";
import { cliConfig } from "../context.ts";

export const command = defineCommand({
  name: "bridge",
  summary: "run your bridges (local clusters, Slurm) in the foreground, as yourself",
  usage: `Usage: drover bridge [--clusters LIST]

Take your launch batches and run them as you: the local clusters' commands on this host,
Slurm's through sbatch (so Slurm sees your uid, account and fairshare). A bridge serves
the person of its credentials (DROVER_CREDENTIALS, else ~/.drover/credentials.json) and
no one else. On a site the supervisor (drover supervisor) starts one for you when you
have work waiting; run your own with this command or as a systemd --user unit
(deploy/systemd/user/drover-bridge.service). SIGTERM or Ctrl-C stops it: running local
commands are reported lost and retried; Slurm jobs keep running and are adopted by the
next bridge.

Options:
  --clusters LIST  comma-separated clusters to serve (default: local, sequential, dummy,
                   and the Slurm cluster when sbatch is here and 'scontrol ping' answers)
  -h, --help       show this help

Environment:
  DROVER_NATS_URL      the site's NATS
  DROVER_CREDENTIALS   your credentials (default ~/.drover/credentials.json)
  DROVER_LOCAL_SLOTS   commands run at once on 'local' (default: the cores)
  DROVER_SLURM_*       the Slurm cluster's name (DROVER_SLURM_CLUSTER, default slurm), …

Example:
  drover bridge --clusters slurm
`,
  options: { clusters: { type: "string" } },
  async run({ values }, io) {
    const config = cliConfig(io);
    const slurm = loadSlurmSettings(config, {}, io.env as NodeJS.ProcessEnv);
    const known = [...LOCAL_CLUSTERS, slurm.cluster];
    const clusters = values.clusters
      ? values.clusters.split(",").map((c) => c.trim())
      : [...LOCAL_CLUSTERS, ...(slurmAnswers() ? [slurm.cluster] : [])];
    for (const c of clusters) {
      if (!known.includes(c)) {
        throw new UsageError(`unknown cluster '${c}' in --clusters (known: ${known.join(", ")})`);
      }
    }
    const local = clusters.filter((c) => c !== slurm.cluster);
    const log = createLogger({ name: "drover-bridge", level: config.logLevel });
    const nc = await connectConfigured(config, `drover-bridge-${hostname()}-${process.pid}`).catch(
      (err: Error) => {
        throw new CliError(`cannot reach NATS: ${err.message}`, 2, { cause: err });
      },
    );
    const person = userFromToken(connectionToken(nc));
    const stops: (() => Promise<void>)[] = [];
    try {
      if (local.length > 0) {
        const bridge = await startLocalBridge({
          nc,
          log,
          slots: config.localSlots,
          logDir: config.logDir,
          memory: config.localMemory,
          clusters: local,
          streamReplicas: config.streamReplicas,
        });
        stops.push(() => bridge.stop());
      }
      if (clusters.includes(slurm.cluster)) {
        const bridge = await startSlurmBridge({ nc, log, ...bridgeOptions(config, slurm) });
        stops.push(() => bridge.stop());
      }
    } catch (err) {
      await Promise.allSettled(stops.map((stop) => stop()));
      await nc.close();
      throw new CliError(`the bridge could not start: ${(err as Error).message}`, 1, {
        cause: err,
      });
    }
    log.info({ person, clusters, pid: process.pid }, "bridge ready");
    io.stderr(`drover bridge: serving ${person} on ${clusters.join(", ")} (pid ${process.pid})\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    // A second signal while stopping exits at once, for an operator who will not wait.
    const now = () => process.exit(1);
    process.once("SIGINT", now);
    process.once("SIGTERM", now);
    await Promise.allSettled(stops.map((stop) => stop()));
    await nc.drain();
    return 0;
  },
});
