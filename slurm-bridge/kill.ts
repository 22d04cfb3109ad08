import type { BridgeCore } from "./core.ts";
import { killedResult, MAX_EARLY_KILLS } from "./core.ts";
import { compactIndices } from "./sacct.ts";
import type { TrackedInstance } from "./state.ts";

/**
 * Kill orders: ONE `scancel` for all the instances of an order, by array element
 * (`job_[3-7,9]`). Pending elements leave the array without a record, so they are
 * reported killed at once; running ones when sacct shows them CANCELLED. An order for an
 * instance not tracked yet is kept until its batch arrives (launch.ts).
 */

export async function killTracked(
  core: BridgeCore,
  insts: TrackedInstance[],
  reason: string,
): Promise<void> {
  if (insts.length === 0) return;
  const { state } = core;
  for (const inst of insts) state.markKilled(inst);
  state.persist();
  const byJob = new Map<string, number[]>();
  for (const inst of insts) {
    const list = byJob.get(inst.part.jobId);
    if (list) list.push(inst.index);
    else byJob.set(inst.part.jobId, [inst.index]);
  }
  const specs = [...byJob].map(([jobId, indices]) =>
    indices.length === 1 ? `${jobId}_${indices[0]}` : `${jobId}_[${compactIndices(indices)}]`,
  );
  const result = await core.cmds.run("scancel", specs);
  if (result.code !== 0) {
    // Typically elements that ended meanwhile; sacct tells what became of each.
    core.log.warn({ specs, stderr: result.stderr.trim().slice(0, 500) }, "scancel complained");
  }
  for (const inst of insts) {
    if (inst.phase === "pending" && result.code === 0) {
      core.report(inst, killedResult(inst.id, `killed before it started: ${reason}`), "CANCELLED");
    }
  }
  state.persist();
  core.kick();
}

/** A kill order; resolves with how many of its instances are this bridge's. */
export async function handleKill(
  core: BridgeCore,
  ids: readonly number[],
  reason: string,
): Promise<number> {
  const insts: TrackedInstance[] = [];
  for (const id of ids) {
    const inst = core.state.instance(id);
    if (inst) insts.push(inst);
    else {
      core.earlyKills.set(id, reason);
      if (core.earlyKills.size > MAX_EARLY_KILLS) {
        core.earlyKills.delete(core.earlyKills.keys().next().value!);
      }
    }
  }
  await killTracked(core, insts, reason);
  return insts.length;
}
