// A submission sent with plain NATS clients as bus/submit.ts documents it, with the DAG
// object given as lines or as raw bytes: for tests of what bind-dag does with input no
// Drover client would send (hostile, oversized, malformed).

import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Objm } from "@nats-io/obj";
import { localUserToken } from "../../core/identity.ts";

export interface RawAnswer {
  ok: boolean;
  workflow_id?: number;
  status?: string;
  reason?: string;
  error?: string;
}

/** The DAG as NDJSON lines, gzip-compressed as the object holds it. */
export function dagBody(lines: readonly unknown[]): Uint8Array {
  return gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
}

/**
 * Uploads `body` to the submitter's bucket and publishes `wf.submit.<me>` with the
 * message `fields` override; resolves with bind-dag's answer (or undefined after
 * `timeoutMs` without one: a message the function dead-lettered).
 */
export async function submitRaw(
  nc: NatsConnection,
  body: Uint8Array,
  fields: Record<string, unknown>,
  timeoutMs = 20_000,
): Promise<RawAnswer | undefined> {
  const me = localUserToken();
  const bucket = `drover-dags-${me}`;
  const store = await new Objm(nc).create(bucket);
  const submissionId = `raw-${randomBytes(8).toString("hex")}`;
  const info = await store.putBlob({ name: submissionId }, body);
  const reply = nc.subscribe(`wf.reply.${me}.${submissionId}`, { max: 1, timeout: timeoutMs });
  const message = {
    v: 1,
    submission_id: submissionId,
    object: { bucket, name: submissionId, digest: info.digest },
    tool: { name: "raw", version: "1" },
    workflow: { name: "raw", default_cluster: "dummy" },
    counts: { templates: 1, tasks: 1, edges: 0 },
    ...fields,
  };
  await jetstream(nc).publish(`wf.submit.${me}`, JSON.stringify(message), {
    msgID: submissionId,
  });
  try {
    for await (const m of reply) return m.json<RawAnswer>();
  } catch {
    return undefined;
  }
  return undefined;
}

/** A template line and `n` task lines of it (`echo {x}`), ids 0..n-1. */
export function echoDag(n: number, value: (i: number) => string = String): unknown[] {
  return [
    {
      kind: "template",
      name: "t",
      command: "echo {x}",
      node_args: ["x"],
      task_args: [],
      op_args: [],
    },
    ...Array.from({ length: n }, (_, i) => ({
      kind: "task",
      i,
      template: "t",
      name: `t_${i}`,
      args: { x: value(i) },
      upstream: [],
    })),
  ];
}
