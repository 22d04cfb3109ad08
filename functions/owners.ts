import { Contracts } from "../bus/contracts.ts";
import { PermanentError } from "../bus/errors.ts";
import type { LaunchBatch, TiError } from "../bus/schemas.ts";
import { userFromToken } from "../core/identity.ts";
import { clustersLaunchedTo, currentLimits } from "../store/limits.ts";
import { instanceOwners, instancesNotOwnedBy, workflowOwners } from "../store/people.ts";
import type { FunctionContext } from "./context.ts";

/**
 * Publishing for people: launch batches and kill orders go to the streams of the
 * workflow's owner (only their bridges pull from them), made first if this process has
 * not made them yet. The owner comes from Postgres, never from a message.
 */

type Ctx = Pick<FunctionContext, "sql" | "publishFor" | "provision" | "log" | "nc">;

/** NATS's default max_payload, for a connection that has not said its server's. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Why a batch can never be published: larger than the server takes in one message.
 * Batches are planned well under the limit (launch/batching.ts), so only a single
 * instance too large for any batch (a huge `env`) gets here. Measured only then: the
 * client refuses such a message itself, and serialising every batch twice to check
 * first cost the launch function a tenth of its time.
 */
function tooLargeReason(b: LaunchBatch, maxPayload: number): string {
  const bytes = Buffer.byteLength(JSON.stringify(b));
  return `cannot be launched: its launch batch is ${bytes} bytes (and its headers), more than the ${maxPayload} a NATS message may have (max_payload); make its command, env or working_dir smaller`;
}

/** The NATS client's refusal of a message over the server's max_payload. */
const overMaxPayload = (err: unknown) => /max_payload/i.test(String((err as Error)?.message));

/**
 * Fails the instances of a batch that can never be published, as a report of theirs
 * would (`ti.<owner>.error`, kind `unlaunchable`): retry makes their tasks ERROR_FATAL
 * with the reason, and the batch counts as sent, so it holds back nothing.
 */
async function failUnpublishable(
  ctx: Ctx,
  owner: string,
  b: LaunchBatch,
  reason: string,
): Promise<void> {
  const ids = b.instances.map((i) => i.id);
  for (let i = 0; i < ids.length; i += 500) {
    const results: TiError["results"] = ids
      .slice(i, i + 500)
      .map((id) => ({ id, kind: "unlaunchable", message: reason }));
    await ctx.publishFor(owner, Contracts.tiError, { v: 1, results }, "report");
  }
  ctx.log.warn({ workflow: b.workflow_id, batch: b.batch_id, reason }, "launch batch too large");
}

/**
 * Publishes each batch to its owner's bridge of its cluster; returns the ids of those
 * published, in order, up to the first failure (rethrown after `onPublished`). A batch
 * of a workflow without an owner (bound before owners existed) stays unpublished. A
 * batch too large to be published fails its tasks and counts as published.
 */
export async function publishLaunches(
  ctx: Ctx,
  batches: readonly LaunchBatch[],
  onPublished: (batchIds: number[]) => Promise<void>,
): Promise<void> {
  const owners = await workflowOwners(
    ctx.sql,
    batches.map((b) => b.workflow_id),
  );
  const published: number[] = [];
  try {
    for (const b of batches) {
      const owner = owners.get(b.workflow_id);
      if (owner === undefined) {
        ctx.log.error({ workflow: b.workflow_id, batch: b.batch_id }, "workflow has no owner");
        continue;
      }
      await ctx.provision.ensure(owner, b.cluster);
      try {
        await ctx.publishFor(owner, Contracts.launch, b);
      } catch (err) {
        if (!overMaxPayload(err)) throw err;
        const maxPayload = ctx.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
        await failUnpublishable(ctx, owner, b, tooLargeReason(b, maxPayload));
      }
      published.push(b.batch_id);
    }
  } finally {
    await onPublished(published);
  }
}

/** Kill orders for instances of a cluster, one per owner. */
export async function publishKills(
  ctx: Ctx,
  cluster: string,
  instanceIds: readonly number[],
  reason: string,
): Promise<void> {
  for (const [owner, ids] of await byOwner(ctx, instanceIds)) {
    await ctx.provision.ensure(owner, cluster);
    await ctx.publishFor(owner, Contracts.kill, { v: 1, instance_ids: ids, reason }, cluster);
  }
}

/**
 * A workflow's limits as they are now, to its owner's bridge of every cluster its
 * batches went to: work already handed out obeys a lowered limit there.
 */
export async function publishLimits(ctx: Ctx, workflowId: number): Promise<void> {
  const [owners, limits, clusters] = await Promise.all([
    workflowOwners(ctx.sql, [workflowId]),
    currentLimits(ctx.sql, workflowId),
    clustersLaunchedTo(ctx.sql, workflowId),
  ]);
  const owner = owners.get(workflowId);
  if (owner === undefined || !limits) return;
  for (const cluster of clusters) {
    await ctx.provision.ensure(owner, cluster);
    await ctx.publishFor(
      owner,
      Contracts.limits,
      { v: 1, workflow_id: workflowId, limits },
      cluster,
    );
  }
}

/** Instance ids grouped by the owner of their workflow (those without one left out). */
export async function byOwner(
  ctx: Pick<Ctx, "sql" | "log">,
  instanceIds: readonly number[],
): Promise<Map<string, number[]>> {
  const owners = await instanceOwners(ctx.sql, instanceIds);
  const grouped = new Map<string, number[]>();
  for (const id of instanceIds) {
    const owner = owners.get(id);
    if (owner === undefined) {
      ctx.log.error({ instance: id }, "instance of a workflow without an owner");
      continue;
    }
    const list = grouped.get(owner);
    if (list) list.push(id);
    else grouped.set(owner, [id]);
  }
  return grouped;
}

/**
 * Refuses a report (`ti.<token>.<kind>`) that names instances of someone else's
 * workflows: a person may report only on their own instances. Dead-lettered with the
 * reason, nothing changed.
 */
export async function refuseForeignReport(
  ctx: Pick<Ctx, "sql">,
  subject: string,
  instanceIds: readonly number[],
): Promise<void> {
  const sender = subject.split(".")[1] ?? "";
  const foreign = await instancesNotOwnedBy(ctx.sql, sender, instanceIds);
  if (foreign.length === 0) return;
  const owners = [...new Set(foreign.map((f) => (f.owner ? userFromToken(f.owner) : "no one")))];
  const ids = foreign.slice(0, 10).map((f) => f.instance_id);
  throw new PermanentError(
    `${subject} reports on instances of workflows that ${userFromToken(sender)} does not own (${ids.join(", ")}${foreign.length > 10 ? ", …" : ""} belong to ${owners.join(", ")}); nothing was changed`,
  );
}
