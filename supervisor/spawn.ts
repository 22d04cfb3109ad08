import { type ChildProcess, spawn } from "node:child_process";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { personCredentialsPath } from "../bus/credentials.ts";
import type { Account } from "../core/account.ts";
import type { PersonCgroup } from "./cgroup.ts";

/**
 * Starting a bridge as a person: `drover bridge` under their uid, their groups and their
 * home, with their credentials, started inside their memory cgroup when there is one.
 * Root does only what needs root (entering the cgroup, dropping to the person with
 * setpriv); everything else, the log file included, is done as the person, so that no
 * path in their home (a symlink they planted) is ever opened by root.
 */

/** What a bridge may inherit from the supervisor: how to reach NATS and Slurm, its tuning. */
const PASSED_ON =
  /^(DROVER_(NATS_URL|LOG_LEVEL|LOCAL_.*|SLURM_.*|HEARTBEAT_SECONDS|MISSED_HEARTBEATS|STREAM_REPLICAS)|SLURM_CONF|LANG|LC_[A-Z]+|TZ|PATH)$/;

export interface BridgeStart {
  account: Account;
  clusters: readonly string[];
  cgroup?: PersonCgroup | undefined;
  /** the `drover` entry point (bin/drover.mjs) the bridge runs */
  entry: string;
  env: NodeJS.ProcessEnv;
}

export function bridgeEnvironment(account: Account, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const passed = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => PASSED_ON.test(key) && value !== undefined),
  );
  return {
    ...passed,
    PATH: env.PATH || "/usr/local/bin:/usr/bin:/bin",
    HOME: account.home,
    USER: account.name,
    LOGNAME: account.name,
    DROVER_HOME: join(account.home, ".drover"),
    DROVER_CREDENTIALS: personCredentialsPath(account),
  };
}

/** The log of the person's supervised bridges on this host. */
export function bridgeLogFile(account: Account): string {
  return join(account.home, ".drover", "logs", `bridge-${hostname()}.log`);
}

export function spawnBridge(start: BridgeStart): ChildProcess {
  const { account } = start;
  const log = bridgeLogFile(account);
  // As the person: a private log folder, the log opened for appending, then the bridge.
  const asPerson = [
    "setpriv",
    `--reuid=${account.uid}`,
    `--regid=${account.gid}`,
    "--init-groups",
    "--",
    "/bin/sh",
    "-c",
    'umask 077; mkdir -p "$1" && exec "$3" "$4" bridge --clusters "$5" >>"$2" 2>&1',
    "drover-bridge",
    dirname(log),
    log,
    process.execPath,
    start.entry,
    start.clusters.join(","),
  ];
  // As root, first: the shell moves itself into the person's cgroup, then becomes them.
  const argv = start.cgroup
    ? [
        "/bin/sh",
        "-c",
        'echo $$ > "$1" || exit 125; shift; exec "$@"',
        "drover-enter",
        start.cgroup.procsFile,
        ...asPerson,
      ]
    : asPerson;
  return spawn(argv[0]!, argv.slice(1), {
    cwd: account.home || "/",
    env: bridgeEnvironment(account, start.env),
    stdio: "ignore",
    // Its own process group: a signal for the supervisor is not one for the bridges.
    detached: true,
  });
}
