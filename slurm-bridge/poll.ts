import { join } from "node:path";
import { readTail } from "../worker/run-command.ts";
import type { BridgeCore } from "./core.ts";
import { killedResult } from "./core.ts";
import { outcomeOf, parseSacct, phaseOf, sacctArgs } from "./sacct.ts";
import { applyLimits } from "./throttle.ts";

/**
 * One poll cycle: ONE `sacct` for every live job of the bridge (bounded by the oldest
 * one's submission), then each live element's fate: still pending or running; ended
 * (reported as SLURM.md maps its state); gone from its job's records (cancelled outside
 * Drover, or killed by us while pending); or a job Slurm never heard of (lost). sacct
 * failing marks nothing: the cycle is skipped. Resolves whether anything changed, which
 * keeps the poll interval short.
 */
export async function pollCycle(core: BridgeCore): Promise<boolean> {
  const { state, log, counters, cmds } = core;
  const parts = state.liveParts();
  if (parts.length === 0) return false;
  counters.pollCycles++;
  const since = Math.min(...parts.map((p) => p.submittedAt)) - 10 * 60_000;
  const result = await cmds.run(
    "sacct",
    sacctArgs(
      parts.map((p) => p.jobId),
      since,
    ),
  );
  if (result.code !== 0) {
    log.warn(
      { stderr: result.stderr.trim().slice(0, 500), live: state.liveCount },
      "sacct failed; polling on, nothing is marked failed for it",
    );
    return false;
  }
  const records = parseSacct(result.stdout);
  const now = Date.now();
  let activity = false;
  let ended = 0;
  for (const part of parts) {
    const elements = records.get(part.jobId);
    for (const inst of [...part.live.values()]) {
      const el = elements?.get(inst.index);
      if (!el) {
        if (!elements) {
          if (now - part.submittedAt > core.missingMs) {
            core.report(
              inst,
              {
                error: {
                  id: inst.id,
                  kind: "lost",
                  exit_code: null,
                  message: `Slurm has no record of job ${part.jobId} after ${Math.round((now - part.submittedAt) / 1000)} s`,
                },
              },
              "MISSING",
            );
            activity = true;
            ended++;
          }
          continue;
        }
        inst.missingSince ??= now;
        if (inst.killOrdered || now - inst.missingSince >= core.vanishMs) {
          core.report(
            inst,
            inst.killOrdered
              ? killedResult(inst.id, "killed before it started: kill order")
              : {
                  error: {
                    id: inst.id,
                    kind: "error",
                    exit_code: null,
                    message: `element ${part.jobId}_${inst.index} vanished from Slurm's records before it started (cancelled outside Drover?)`,
                  },
                },
            "VANISHED",
          );
          activity = true;
          ended++;
        }
        continue;
      }
      inst.missingSince = undefined;
      const phase = phaseOf(el.state);
      if (phase !== "ended") {
        if (inst.phase !== phase) {
          inst.phase = phase;
          activity = true;
        }
        continue;
      }
      if (el.state === "COMPLETED" && el.maxRssBytes === undefined) {
        // Wait a little for the step's MaxRSS. Only for COMPLETED: the worker inside
        // the job has usually reported it already; failures go out at once.
        inst.completedWithoutRssSince ??= now;
        if (now - inst.completedWithoutRssSince < core.rssGraceMs) {
          activity = true; // poll again soon
          continue;
        }
      }
      const slurmOutput = join(part.dir, `slurm-${part.jobId}_${inst.index}.out`);
      const outcome = outcomeOf(el, {
        instanceId: inst.id,
        killOrdered: inst.killOrdered,
        memoryBytes: part.memoryBytes,
        runtimeSeconds: part.runtimeSeconds,
        ...(el.state === "COMPLETED" ? {} : { stderrTail: readTail(inst.stderr) }),
        ...(el.state === "COMPLETED" ? {} : { slurmOutputTail: readTail(slurmOutput, 4096) }),
      });
      if (outcome) {
        core.report(inst, outcome, el.state);
        activity = true;
        ended++;
      }
    }
  }
  state.persist();
  // Running counts changed: the workflows' limits give their arrays new throttles.
  await applyLimits(core);
  const fields = {
    cycle: counters.pollCycles,
    ended,
    live: state.liveCount,
    jobs: parts.length,
    sacct_calls: cmds.calls.sacct,
    sbatch_calls: cmds.calls.sbatch,
    poll_interval_s: core.pollIntervalMs() / 1000,
  };
  if (ended > 0) log.info(fields, "poll cycle");
  else log.debug(fields, "poll cycle");
  return activity;
}

/** pollCycle one at a time, however many ask (the poller's timer, pollNow). */
export function serialPollCycle(core: BridgeCore): () => Promise<boolean> {
  let inCycle: Promise<boolean> | undefined;
  return async () => {
    while (inCycle) await inCycle.catch(() => false);
    inCycle = pollCycle(core);
    try {
      return await inCycle;
    } finally {
      inCycle = undefined;
    }
  };
}
