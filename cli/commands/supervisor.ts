// drover supervisor: on a login node, as root, start each person's bridge when they have work.
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { connectConfigured } from "../../bus/connect.ts";
import { createLogger } from "../../core/log.ts";
import { packagePath } from "../../core/package-root.ts";
import { LOCAL_CLUSTERS } from "../../local-bridge/bridge.ts";
import { loadSlurmSettings } from "../../slurm-bridge/options.ts";
import { startSupervisor } from "../../supervisor/supervisor.ts";
import { CliError, defineCommand, UsageError } from "../args.ts";
import { cliConfig } from "../context.ts";

const ENTRY = packagePath("bin/drover.mjs");

export const command = defineCommand({
  name: "supervisor",
  summary: "start and restart each person's bridge on this login node (run as root)",
  usage: `Usage: drover supervisor --clusters LIST [--interval SECONDS] [--min-uid N]

Keep a bridge running as each person who has work waiting on this node's clusters: when
person P has launch batches or kill orders and no live bridge, start 'drover bridge'
as P (their uid and groups, their home, their credentials ~P/.drover/credentials.json,
inside a memory cgroup subtree of their own), and restart it when it dies. A bridge of
P's own (systemd --user, another login node) counts as live. Bridges log to
~P/.drover/logs/bridge-HOST.log and outlive the supervisor.

Options:
  --clusters LIST       comma-separated clusters this node serves (e.g. slurm or local)
  --interval SECONDS    how often to look for waiting work (default 5)
  --min-uid N           lowest uid a bridge runs as (default 1000); never root
  -h, --help            show this help

Environment:
  DROVER_NATS_URL      the site's NATS
  DROVER_CREDENTIALS   the supervisor's credentials (drover admin init makes
                       supervisor.credentials.json in the site folder)
  DROVER_SLURM_*, DROVER_LOCAL_*, DROVER_LOG_LEVEL, SLURM_CONF
                       passed on to the bridges (nothing else of this environment is)

Example:
  sudo DROVER_CREDENTIALS=/etc/drover/supervisor.credentials.json drover supervisor --clusters slurm
`,
  options: {
    clusters: { type: "string" },
    interval: { type: "string" },
    "min-uid": { type: "string" },
  },
  async run({ values }, io) {
    if (process.getuid?.() !== 0) {
      throw new CliError("drover supervisor runs as root (it starts bridges as each person)", 2);
    }
    const config = cliConfig(io);
    const slurm = loadSlurmSettings(config, {}, io.env as NodeJS.ProcessEnv);
    const known = [...LOCAL_CLUSTERS, slurm.cluster];
    if (!values.clusters) throw new UsageError("missing --clusters (e.g. --clusters slurm)");
    const clusters = values.clusters.split(",").map((c) => c.trim());
    for (const c of clusters) {
      if (!known.includes(c)) {
        throw new UsageError(`unknown cluster '${c}' in --clusters (known: ${known.join(", ")})`);
      }
    }
    const interval = Number(values.interval ?? 5);
    if (!(interval > 0)) {
      throw new UsageError(
        `--interval must be a positive number of seconds, not '${values.interval}'`,
      );
    }
    const minUid = Number(values["min-uid"] ?? 1000);
    if (!Number.isInteger(minUid) || minUid < 1) {
      throw new UsageError(
        `--min-uid must be a whole number of at least 1, not '${values["min-uid"]}'`,
      );
    }
    if (spawnSync("setpriv", ["--version"]).status !== 0) {
      throw new CliError(
        "setpriv is not installed (Debian: util-linux): it drops to each person",
        1,
      );
    }
    const log = createLogger({ name: "drover-supervisor", level: config.logLevel });
    const nc = await connectConfigured(config, `drover-supervisor-${hostname()}`).catch(
      (err: Error) => {
        throw new CliError(`cannot reach NATS: ${err.message}`, 2, { cause: err });
      },
    );
    const supervisor = await startSupervisor({
      nc,
      log,
      clusters,
      slurmCluster: clusters.includes(slurm.cluster) ? slurm.cluster : undefined,
      entry: ENTRY,
      env: { ...io.env, DROVER_NATS_URL: config.natsUrl } as NodeJS.ProcessEnv,
      intervalMs: interval * 1000,
      minUid,
    });
    log.info({ clusters, interval, minUid, entry: ENTRY }, "supervisor ready");
    io.stderr(`drover supervisor: serving ${clusters.join(", ")} (pid ${process.pid})\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await supervisor.stop();
    await nc.drain();
    return 0;
  },
});
