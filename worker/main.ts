import { mkdirSync, readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { type NatsConnection, nkeyAuthenticator } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { inboxPrefix, readCredentials } from "../bus/credentials.ts";
import { createPublisher } from "../bus/publish.ts";
import { localUserToken } from "../core/identity.ts";
import { composeTaskEnv } from "../core/task-env.ts";
import pkg from "../package.json" with { type: "json" };
import { instanceForStep, ManifestError, parseManifest } from "./manifest.ts";
import { MemorySampler, signalTree } from "./proc.ts";
import { type MiniLog, type PublishFn, Reporter } from "./reporter.ts";
import { diedBySignal, exitStatus, resultOf } from "./results.ts";
import { runCommand } from "./run-command.ts";

/**
 * The worker wrapper: what each Slurm array element runs, bundled into one file
 * (`dist/drover-worker.mjs`, see scripts/build-worker.mjs) so that a task pays no
 * compile and no module resolution.
 *
 *   node drover-worker.mjs --manifest FILE [--step N]     (N defaults to SLURM_ARRAY_TASK_ID)
 *
 * Runs the instance's command exactly as the local bridge does (worker/run-command.ts),
 * publishes `ti.running`, one `ti.heartbeat` every heartbeat_seconds, then `ti.done` or
 * `ti.error`, and exits with the command's status (128 + signal when it died by one).
 * Limits are Slurm's business: the worker measures peak memory but kills nothing; a
 * command killed by a signal is an `error` ("killed by signal X"), or, with the manifest's
 * `signal_deaths: "bridge"` (what the Slurm bridge writes), not reported at all: the bridge
 * reports it from sacct, which tells OOM, timeout and cancellation apart, so the first
 * report of an instance is the right one. Signals sent to the worker are passed on to
 * the command's tree. The command starts at once; NATS is connected meanwhile and
 * reports wait for it (up to a deadline at the end).
 */

const USAGE = "usage: drover-worker --manifest FILE [--step N] | --version";
const REPORT_DEADLINE_MS = 120_000;

/** JSON lines on stderr: the worker's own diagnostics (the command's go to its files). */
function stderrLog(base: Record<string, unknown>): MiniLog {
  const write = (level: string) => (obj: object, msg: string) => {
    const fields = Object.fromEntries(
      Object.entries(obj).map(([k, v]) => [
        k,
        v instanceof Error ? { message: v.message, name: v.name } : v,
      ]),
    );
    process.stderr.write(
      `${JSON.stringify({ level, time: Date.now(), ...base, ...fields, msg })}\n`,
    );
  };
  return { debug: () => {}, info: write("info"), warn: write("warn"), error: write("error") };
}

/** The job's own variables, set by Slurm for this array element. */
function slurmVariables(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k.startsWith("SLURM_") || k === "SLURMD_NODENAME")) out[k] = v;
  }
  return out;
}

function fail(message: string, code = 2): never {
  process.stderr.write(`drover-worker: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<number> {
  let values: { manifest?: string; step?: string; version?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        manifest: { type: "string" },
        step: { type: "string" },
        version: { type: "boolean" },
      },
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.version) {
    process.stdout.write(`drover-worker ${pkg.version}\n`);
    return 0;
  }
  if (!values.manifest) fail(USAGE);
  const stepText = values.step ?? process.env.SLURM_ARRAY_TASK_ID;
  if (stepText === undefined || !/^\d+$/.test(stepText)) {
    fail(`no step: pass --step N or run as a Slurm array element\n${USAGE}`);
  }

  let manifest: ReturnType<typeof parseManifest>;
  let instance: ReturnType<typeof instanceForStep>;
  try {
    manifest = parseManifest(readFileSync(values.manifest, "utf8"), values.manifest);
    instance = instanceForStep(manifest, Number(stepText));
  } catch (err) {
    if (err instanceof ManifestError) fail(err.message);
    fail(`cannot read the manifest: ${(err as Error).message}`);
  }

  const log = stderrLog({ name: "drover-worker", instance: instance.id });
  const node = hostname();
  const { SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_JOB_ID } = process.env;
  const distributorId =
    SLURM_ARRAY_JOB_ID && SLURM_ARRAY_TASK_ID
      ? `${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}`
      : SLURM_JOB_ID;

  // Connecting waits for a NATS that is (re)starting rather than failing the task.
  const credentials = manifest.credentials ? readCredentials(manifest.credentials) : undefined;
  const owner = credentials?.token ?? manifest.owner ?? localUserToken();
  const connecting: Promise<NatsConnection> = connect({
    servers: manifest.nats_url.split(","),
    name: `drover-worker-${instance.id}`,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...(credentials
      ? {
          authenticator: nkeyAuthenticator(new TextEncoder().encode(credentials.seed)),
          inboxPrefix: inboxPrefix(credentials.token),
        }
      : {}),
  });
  connecting.catch((err) => log.error({ err }, "cannot connect to NATS"));
  const publish: PublishFn = async (contract, data, ...key) => {
    // Not connected yet: fail this attempt, the reporter retries until its deadline.
    const nc = await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        setTimeout(() => reject(new Error("not connected to NATS yet")), 5000).unref();
      }),
    ]);
    return createPublisher(nc, jetstream(nc), owner).publish(contract, data, ...key);
  };
  const reporter = new Reporter(publish, log, {
    reporterId: `worker-${instance.id}-${process.pid}`,
  });

  for (const path of [instance.stdout, instance.stderr]) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    } catch {
      // runCommand reports the output files it cannot open
    }
  }
  // The job runs under the bridge's umask 077 (its files are the owner's only); the
  // command gets the umask the bridge had before (the owner's usual one).
  if (manifest.umask !== undefined) process.umask(manifest.umask);
  const command = runCommand({
    command: instance.command,
    stdout: instance.stdout,
    stderr: instance.stderr,
    // The manifest's environment and Slurm's own SLURM_* variables of this job: nothing
    // else of the worker's environment (the job's, the submitting bridge's) passes on.
    env: composeTaskEnv(
      manifest.env,
      instance.env,
      {
        workflowId: manifest.workflow_id,
        taskId: instance.task_id,
        instanceId: instance.id,
        attempt: instance.attempt,
        cluster: manifest.cluster,
      },
      slurmVariables(process.env),
    ),
    cwd: instance.working_dir ?? manifest.working_dir ?? homedir(),
    sampler: new MemorySampler(250),
  });
  let signalled = false;
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const) {
    process.on(signal, () => {
      signalled = true;
      if (command.pid !== undefined) signalTree(command.pid, signal);
    });
  }
  reporter.reportRunning({
    id: instance.id,
    node,
    ...(distributorId ? { distributor_id: distributorId } : {}),
  });
  const heartbeat = setInterval(
    () => reporter.reportHeartbeat([instance.id]),
    manifest.heartbeat_seconds * 1000,
  );

  const outcome = await command.done;
  clearInterval(heartbeat);
  if (manifest.signal_deaths === "bridge" && diedBySignal(outcome, signalled)) {
    log.info(
      { exit_code: outcome.exitCode, signal: outcome.signal, signalled },
      "death by signal: left to the bridge to report",
    );
  } else {
    reporter.reportResult(resultOf(instance.id, outcome, node));
  }
  await reporter.close(REPORT_DEADLINE_MS);
  const nc = await Promise.race([connecting, Promise.resolve(undefined)]).catch(() => undefined);
  await nc?.drain().catch(() => {});
  return exitStatus(outcome);
}

main().then(
  (code) => process.exit(code),
  (err) => fail(`unexpected failure: ${(err as Error).stack ?? err}`, 1),
);
