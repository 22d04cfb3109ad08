import { existsSync } from "node:fs";
import type { LaunchBatch } from "../bus/schemas.ts";
import type { LaunchedEntry } from "../worker/reporter.ts";
import type { BridgeCore } from "./core.ts";
import { killedResult, sleep } from "./core.ts";
import { killTracked } from "./kill.ts";
import {
  batchTag,
  findJobByTag,
  type Part,
  partFiles,
  SbatchRefused,
  splitParts,
  submitBackoffMs,
  submitPart,
  writePart,
} from "./sbatch.ts";
import type { TrackedPart } from "./state.ts";
import { applyLimits, submitHeld } from "./throttle.ts";

/**
 * A launch batch: split at MaxArraySize into parts, ONE `sbatch --array` per part, each
 * part's job recorded in the state before the launch is acked. A batch delivered again
 * looks for its parts' tags in Slurm before submitting anything, so nothing goes in twice.
 */

/** The job of a tag, asking again (with backoff) while Slurm cannot answer. */
async function lookupTag(core: BridgeCore, tag: string, since: number) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await findJobByTag(core.cmds, tag, since);
    } catch (err) {
      if (core.signal.aborted) throw err;
      const delay = submitBackoffMs(attempt, 1000, 60_000);
      core.log.warn({ err, tag, attempt, delay }, "cannot tell whether the batch was submitted");
      await sleep(delay, core.signal);
    }
  }
}

/** Submits one part (or finds it already submitted) and tracks it; undefined if none. */
async function acceptPart(
  core: BridgeCore,
  batch: LaunchBatch,
  part: Part,
  delivery: number,
): Promise<TrackedPart | undefined> {
  const { log, counters } = core;
  const tag = batchTag(core.tagPrefix, batch, part.part);
  // A limited workflow's array starts held: throttle.ts releases it within its limit.
  const hold = submitHeld(core, batch.workflow_id);
  const files = partFiles(core.jobsDir, batch.batch_id, part.part);
  // Delivered before: an earlier attempt may have submitted it and died.
  let jobId =
    delivery > 1 ? await lookupTag(core, tag, Date.now() - core.adoptWindowMs) : undefined;
  if (jobId) {
    counters.partsAdopted++;
    log.info({ tag, job: jobId, delivery }, "batch found in Slurm: adopted");
    // Its elements read the manifest written then: it is kept as it is.
    if (!existsSync(files.manifest)) writePart(batch, part, core.fileOptions);
  } else {
    const keep = part.instances.filter((i) => {
      const reason = core.earlyKills.get(i.id);
      if (reason === undefined) return true;
      core.report(undefined, killedResult(i.id, `killed before it started: ${reason}`), "-");
      return false;
    });
    if (keep.length === 0) return undefined;
    const backoff = core.submitBackoff;
    try {
      // Inside: a batch whose names cannot go into a job script is refused like one sbatch refuses.
      const written = writePart(batch, { ...part, instances: keep }, core.fileOptions);
      jobId = await submitPart(core.cmds, written, {
        signal: core.signal,
        hold,
        ...(backoff.baseMs ? { baseBackoffMs: backoff.baseMs } : {}),
        ...(backoff.capMs ? { capBackoffMs: backoff.capMs } : {}),
        ...(backoff.maxUnknownAttempts ? { maxUnknownAttempts: backoff.maxUnknownAttempts } : {}),
        lookup: () => findJobByTag(core.cmds, tag, Date.now() - core.adoptWindowMs),
        onRetry: (attempt, delay, err) =>
          log.warn({ tag, attempt, delay, err: err.message }, "sbatch failed, retrying"),
      });
    } catch (err) {
      if (!(err instanceof SbatchRefused)) throw err;
      log.error({ tag, err: err.message }, "sbatch refused the batch");
      for (const i of keep) {
        const message = `not submitted: ${err.message}`.slice(0, 2000);
        core.report(
          undefined,
          { error: { id: i.id, kind: "error", exit_code: null, message } },
          "REFUSED",
        );
      }
      return undefined;
    }
    counters.partsSubmitted++;
  }
  await core.afterSubmit?.(tag, jobId);
  const tracked = core.state.adopt({
    batchId: batch.batch_id,
    part: part.part,
    jobId,
    tag,
    manifestPath: files.manifest,
    submittedAt: Date.now(),
    template: batch.template,
    limited: hold ? { throttle: 0, held: true } : undefined,
  });
  core.track(tracked);
  return tracked;
}

export async function handleLaunch(
  core: BridgeCore,
  batch: LaunchBatch,
  delivery: number,
): Promise<void> {
  const { state, earlyKills } = core;
  core.counters.batches++;
  state.learnLimits(batch.workflow_id, batch.limits);
  const entries: LaunchedEntry[] = [];
  const fresh: TrackedPart[] = [];
  for (const part of splitParts(batch.instances, core.maxArraySize)) {
    let tracked = state.part(batch.batch_id, part.part);
    if (!tracked && state.hasFinished(batch.batch_id, part.part)) continue;
    if (!tracked) {
      tracked = await acceptPart(core, batch, part, delivery);
      if (!tracked) continue;
      fresh.push(tracked);
    }
    entries.push(...tracked.launched);
  }
  // Announced before the launch is acked: if this fails, the launch comes again and
  // finds its parts in the state.
  if (entries.length > 0) await core.reporter.launched(core.cluster, entries);
  // Kill orders that came while the batch was on its way.
  const lateKills = fresh.flatMap((p) => [...p.live.values()].filter((i) => earlyKills.has(i.id)));
  if (lateKills.length > 0) {
    await killTracked(core, lateKills, earlyKills.get(lateKills[0]!.id) ?? "kill order");
    for (const i of lateKills) earlyKills.delete(i.id);
  }
  if (fresh.length > 0) {
    await applyLimits(core, batch.workflow_id);
    core.kick();
  }
}
