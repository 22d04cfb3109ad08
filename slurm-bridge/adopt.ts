import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import type { BridgeCore } from "./core.ts";
import { scanTaggedJobs } from "./state.ts";

/**
 * Re-adoption at start-up, beyond what the state file holds: this installation's jobs
 * (by tag) that sacct knows of and the state does not (a bridge that died between sbatch
 * and recording the job) are tracked again from their manifests. Jobs sharing a tag mean
 * a batch went in twice: that is logged loudly.
 */
export async function adoptionScan(core: BridgeCore, fromState: number): Promise<void> {
  const { state, log } = core;
  core.counters.pollCycles++;
  const since = Date.now() - core.adoptWindowMs;
  const { jobs, duplicates } = await scanTaggedJobs(
    core.cmds,
    core.tagPrefix,
    since,
    userInfo().username,
  );
  if (duplicates.length > 0) {
    log.error(
      { duplicates: duplicates.map((d) => `${d.jobId} (${d.tag})`) },
      "jobs share a tag: a batch was submitted twice",
    );
  }
  let found = 0;
  for (const job of jobs) {
    if (state.part(job.batchId, job.part) || state.hasFinished(job.batchId, job.part)) continue;
    const manifestPath = join(core.jobsDir, `batch-${job.batchId}`, `part-${job.part}.json`);
    if (!existsSync(manifestPath)) {
      log.warn({ job: job.jobId, tag: job.tag, manifestPath }, "tagged job without a manifest");
      continue;
    }
    core.track(state.adopt({ ...job, manifestPath }, false));
    found++;
  }
  state.prune(core.adoptWindowMs);
  state.persist();
  core.counters.partsAdopted += found;
  log.info({ from_state: fromState, from_sacct: found, live: state.liveCount }, "jobs re-adopted");
}

/**
 * Start-up: the parts the state file holds are tracked again, then sacct is scanned by
 * tag. A failing scan (sacct down) leaves what the state file holds tracked; it is not
 * retried.
 */
export async function readopt(core: BridgeCore): Promise<void> {
  const { state, log } = core;
  const adopted = state.load((problem) => log.warn({ problem }, "state not fully re-adopted"));
  for (const part of adopted) core.track(part);
  core.counters.partsAdopted += adopted.length;
  try {
    await adoptionScan(core, adopted.length);
  } catch (err) {
    log.warn({ err }, "start-up scan for tagged jobs failed");
  }
}
