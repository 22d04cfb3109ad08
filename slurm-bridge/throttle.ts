import type { BridgeCore } from "./core.ts";
import type { ArrayLimit, TrackedPart } from "./state.ts";

/**
 * A workflow's limits on Slurm. Each of its job arrays gets a throttle
 * (`scontrol update JobId=… ArrayTaskThrottle=N`: Slurm starts an element of that array
 * only while fewer than N run) or is held (`scontrol hold`: none of its pending elements
 * start), so that the throttles of all its arrays together never allow more than the
 * limit. Recomputed after each poll, when running counts change: an array's throttle is
 * what runs in it now plus its share of the room left, given to the oldest arrays first.
 * Over the limit (just after it was lowered) there is no room: every array with pending
 * elements is held, the running ones finish. Arrays are submitted held when their
 * workflow has a limit, and released here.
 */

function counts(part: TrackedPart): { running: number; pending: number } {
  let running = 0;
  let pending = 0;
  for (const inst of part.live.values()) {
    if (inst.killOrdered) continue;
    if (inst.phase === "running") running++;
    else if (inst.phase === "pending" || inst.phase === "unknown") pending++;
  }
  return { running, pending };
}

/** Whether a new array of this workflow should be submitted held (it has a limit). */
export function submitHeld(core: BridgeCore, workflowId: number): boolean {
  const limits = core.state.limits.get(workflowId);
  if (!limits) return false;
  return limits.workflow !== null || Object.values(limits.templates).some((n) => n !== null);
}

/** The run of applyLimits under way per bridge: runs follow each other, never overlap. */
const inFlight = new WeakMap<BridgeCore, Promise<void>>();

/**
 * Brings the throttles and holds of the arrays of every limited workflow (or of `only`)
 * to what they should be, after any run of this under way.
 */
export function applyLimits(core: BridgeCore, only?: number): Promise<void> {
  const previous = inFlight.get(core) ?? Promise.resolve();
  const next = previous.then(() => applyNow(core, only));
  inFlight.set(
    core,
    next.catch(() => {}),
  );
  return next;
}

async function applyNow(core: BridgeCore, only?: number): Promise<void> {
  const byWorkflow = new Map<number, TrackedPart[]>();
  for (const part of core.state.liveParts()) {
    if (only !== undefined && part.workflowId !== only) continue;
    const list = byWorkflow.get(part.workflowId);
    if (list) list.push(part);
    else byWorkflow.set(part.workflowId, [part]);
  }
  for (const [workflowId, parts] of byWorkflow) {
    await applyWorkflow(core, workflowId, parts);
  }
  core.state.persist();
}

async function applyWorkflow(
  core: BridgeCore,
  workflowId: number,
  parts: TrackedPart[],
): Promise<void> {
  const { limits } = core.state;
  // Never limited here, and nothing set before: Slurm's own defaults stand.
  if (!limits.get(workflowId) && parts.every((p) => !p.limited)) return;
  parts.sort((a, b) => a.submittedAt - b.submittedAt || a.batchId - b.batchId);
  const of = new Map(parts.map((p) => [p, counts(p)]));
  // What may run once this pass is done: what runs now, plus what each array is let
  // start, in all and per template; the limits' room is measured against it.
  let allowed = 0;
  const allowedOf = new Map<string | undefined, number>();
  const allow = (template: string | undefined, n: number) => {
    allowed += n;
    allowedOf.set(template, (allowedOf.get(template) ?? 0) + n);
  };
  for (const [part, c] of of) allow(part.template, c.running);
  for (const part of parts) {
    const { running, pending } = of.get(part)!;
    if (pending === 0) continue;
    const room = limits.room(workflowId, part.template, allowed, allowedOf.get(part.template) ?? 0);
    const extra = Math.min(pending, room);
    allow(part.template, extra);
    const wanted: ArrayLimit =
      room === Number.POSITIVE_INFINITY
        ? { throttle: 0, held: false }
        : extra === 0
          ? { throttle: part.limited?.throttle ?? 0, held: true }
          : { throttle: running + extra, held: false };
    await setArray(core, part, wanted);
  }
}

/**
 * Whether scontrol did what was asked of an array's pending elements. It exits 1 when
 * some elements of the array have ended ("2484_0-7: Job has already finished") even
 * though it held or released the others ("2484_8-15: No error"): that is success here,
 * or a hold would go unrecorded and never be released.
 */
export function appliedToPending(result: { code: number | null; stdout: string; stderr: string }) {
  if (result.code === 0) return true;
  const lines = `${result.stdout}\n${result.stderr}`.split("\n").filter((l) => l.trim() !== "");
  return lines.length > 0 && lines.every((l) => /No error|already finished/i.test(l));
}

async function setArray(core: BridgeCore, part: TrackedPart, wanted: ArrayLimit): Promise<void> {
  const before = part.limited ?? { throttle: 0, held: false };
  const steps: string[][] = [];
  // Throttle first, then release: a released array starts no more than its throttle.
  if (wanted.throttle !== before.throttle && !wanted.held) {
    steps.push(["update", `JobId=${part.jobId}`, `ArrayTaskThrottle=${wanted.throttle}`]);
  }
  if (wanted.held && !before.held) steps.push(["hold", part.jobId]);
  if (!wanted.held && before.held) steps.push(["release", part.jobId]);
  for (const args of steps) {
    const result = await core.cmds.run("scontrol", args);
    if (!appliedToPending(result)) {
      // Typically an array that ended meanwhile; the next poll sets it again if needed.
      core.log.warn(
        { job: part.jobId, args, stderr: result.stderr.trim().slice(0, 300) },
        "scontrol refused a limit",
      );
      return;
    }
  }
  if (steps.length > 0) {
    core.log.info(
      { workflow: part.workflowId, job: part.jobId, ...wanted },
      "array throttled for its workflow's limit",
    );
  }
  core.state.setLimited(part, {
    throttle: wanted.held ? before.throttle : wanted.throttle,
    held: wanted.held,
  });
}
