import { type JetStreamContract, jetstream, ownerToken, type StreamSpec } from "./contract.ts";
import { idsDigest16, idsDigest24, shortDigest } from "./message-ids.ts";
import { ctlDurable, launchDurable, personStreams } from "./person-streams.ts";
import * as M from "./schemas.ts";
import { WfSubmit } from "./submit.ts";

/**
 * Every JetStream subject, declared once: its schema (each carries a version `v`), the
 * stream it is stored in and who consumes it, how a message's concrete subject and its
 * message id are built. Publishing (validate, address, msgID), consuming (which schema a
 * subject follows, which subjects a function reads) and provisioning (bus/streams.ts)
 * are all derived from this table. Subject names and payloads are public contracts:
 * bridges, the worker and backends written from the documentation rely on them.
 *
 * NATS 2.9: a consumer has one filter and streams cannot share subjects, so each
 * function consumes from a stream of its own holding exactly its subjects (`consumer`),
 * with one durable shared by its replicas. Launch batches and kill orders go to each
 * person's own streams (bus/person-streams.ts), one filtered consumer per cluster
 * (`personStream` + `durable`).
 *
 * A person's subjects carry their user token (`ownerAt`): what they publish (a
 * submission, results of their instances, their bridges' heartbeats) and what is
 * published for them (launch batches, kill orders). NATS permissions let a person
 * publish only under their own token, so the token is who sent it.
 */

/** The stream of a function's subjects. */
export function streamNameFor(functionName: string): string {
  return `DROVER_FN_${functionName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Streams not owned by one function or one person: the dead letters. */
export const Streams = {
  // Dead letters are kept two weeks for inspection, not consumed as work.
  dlq: { name: "DROVER_DLQ", subjects: ["dlq.>"], keepMs: 14 * 24 * 3600 * 1000 },
} as const satisfies Record<string, StreamSpec>;

/** Why schedule is woken: the message id names the event, so a redelivery wakes once. */
export type WakeCause =
  /** instances ended (`done`: complete, `retry`: retry decided on failures) */
  | { after: "done" | "retry"; instance_ids: readonly number[] }
  /** schedule continuing a workflow it left to others, after its last queued task */
  | { more: { id: number; queued_count: number } | undefined }
  /** a user's command (stop, resume, limits…): each command wakes */
  | { command: string };

/** What makes a task.queued message new work. */
export type QueuedKey =
  /** schedule: each task's lifetime queue count, in `task_ids` order */
  | { queued_counts: readonly number[] }
  /** the reaper re-sending a lost one: by minute, so a later sweep may send it again */
  | { requeued_minute: number };

/** Who reports failures: bridges and workers, or the reaper (instances lost). */
export type ErrorSource = "report" | "reap";

export const Contracts = {
  /** A workflow submission: metadata and the name of the uploaded DAG object. */
  submit: jetstream({
    subject: "wf.submit.*",
    schema: WfSubmit,
    consumer: "bind-dag",
    ownerAt: 2,
    address: (_m, _k, owner) => `wf.submit.${ownerToken("wf.submit", owner)}`,
    msgId: (m) => m.submission_id,
  }),
  bound: jetstream({
    subject: "wf.bound",
    schema: M.WfBound,
    consumer: "schedule",
    msgId: (m) => `bound-${m.run_id}`,
  }),
  schedWake: jetstream({
    subject: "sched.wake",
    schema: M.SchedWake,
    consumer: "schedule",
    msgId: (m, cause: WakeCause) => {
      if ("after" in cause)
        return `wake-${cause.after}-${m.workflow_id}-${idsDigest16(cause.instance_ids)}`;
      if ("more" in cause)
        return `wake-more-${m.workflow_id}-${cause.more?.id ?? 0}-${cause.more?.queued_count ?? 0}`;
      return undefined;
    },
  }),
  taskQueued: jetstream({
    subject: "task.queued",
    schema: M.TaskQueued,
    consumer: "launch",
    msgId: (m, key: QueuedKey) => {
      if ("requeued_minute" in key)
        return `requeued-${idsDigest16(m.task_ids)}-${key.requeued_minute}`;
      const counted = m.task_ids.map((id, i) => `${id}:${key.queued_counts[i]}`).join(",");
      return `queued-${m.workflow_id}-${m.task_ids[0] ?? 0}-${m.task_ids.length}-${shortDigest(counted, 16)}`;
    },
  }),
  /** `launch.<cluster>.<owner>`: one batch, taken by the owner's bridge of that cluster. */
  launch: jetstream({
    subject: "launch.*.*",
    schema: M.LaunchBatch,
    personStream: (owner) => personStreams(owner).launch,
    durable: launchDurable,
    ownerAt: 2,
    address: (m, _k, owner) => `launch.${m.cluster}.${ownerToken("launch", owner)}`,
    msgId: (m) => `launch-${m.batch_id}`,
  }),
  /** `ctl.<cluster>.<owner>.kill`: kill orders to the owner's bridge of a cluster. */
  kill: jetstream({
    subject: "ctl.*.*.kill",
    schema: M.KillOrder,
    personStream: (owner) => personStreams(owner).ctl,
    durable: ctlDurable,
    ownerAt: 2,
    address: (_m, cluster: string, owner) => `ctl.${cluster}.${ownerToken("ctl", owner)}.kill`,
  }),
  /** `ctl.<cluster>.<owner>.limit`: a workflow's new limits, to the owner's bridge of a cluster. */
  limits: jetstream({
    subject: "ctl.*.*.limit",
    schema: M.LimitOrder,
    personStream: (owner) => personStreams(owner).ctl,
    durable: ctlDurable,
    ownerAt: 2,
    address: (_m, cluster: string, owner) => `ctl.${cluster}.${ownerToken("ctl", owner)}.limit`,
    msgId: (m, cluster: string) => `limit-${m.workflow_id}-${m.limits.version}-${cluster}`,
  }),
  tiLaunched: jetstream({
    subject: "ti.*.launched",
    ownerAt: 1,
    address: (_m, _k, owner) => `ti.${ownerToken("ti.launched", owner)}.launched`,
    schema: M.TiLaunched,
    consumer: "heartbeat",
    msgId: (m) => `launched-${m.cluster}-${idsDigest24(m.instances.map((i) => i.id))}`,
  }),
  tiRunning: jetstream({
    subject: "ti.*.running",
    ownerAt: 1,
    address: (_m, _k, owner) => `ti.${ownerToken("ti.running", owner)}.running`,
    schema: M.TiRunning,
    consumer: "heartbeat",
    msgId: (m) => `running-${idsDigest24(m.instances.map((i) => i.id))}`,
  }),
  /** Heartbeats repeat the same ids every few seconds: numbered by their reporter. */
  tiHeartbeat: jetstream({
    subject: "ti.*.heartbeat",
    ownerAt: 1,
    address: (_m, _k: { reporter: string; seq: number }, owner) =>
      `ti.${ownerToken("ti.heartbeat", owner)}.heartbeat`,
    schema: M.TiHeartbeat,
    consumer: "heartbeat",
    msgId: (_m, from: { reporter: string; seq: number }) =>
      `heartbeat-${from.reporter}-${from.seq}`,
  }),
  tiDone: jetstream({
    subject: "ti.*.done",
    ownerAt: 1,
    address: (_m, _k, owner) => `ti.${ownerToken("ti.done", owner)}.done`,
    schema: M.TiDone,
    consumer: "complete",
    msgId: (m) => `done-${idsDigest24(m.results.map((r) => r.id))}`,
  }),
  tiError: jetstream({
    subject: "ti.*.error",
    ownerAt: 1,
    address: (_m, _k: ErrorSource, owner) => `ti.${ownerToken("ti.error", owner)}.error`,
    schema: M.TiError,
    consumer: "retry",
    msgId: (m, source: ErrorSource) => {
      const ids = m.results.map((r) => r.id);
      return source === "reap" ? `lost-${idsDigest16(ids)}` : `error-${idsDigest24(ids)}`;
    },
  }),
  /**
   * `bridge.heartbeat.<cluster>.<owner>`: a person's bridge telling it is alive (each
   * beat is stored).
   */
  bridgeHeartbeat: jetstream({
    subject: "bridge.heartbeat.*.*",
    schema: M.BridgeHeartbeat,
    consumer: "reap",
    ownerAt: 3,
    address: (m, _k, owner) =>
      `bridge.heartbeat.${m.cluster}.${ownerToken("bridge.heartbeat", owner)}`,
  }),
  /** The queues a bridge's cluster has: the same queues, the same id. */
  clusterQueues: jetstream({
    subject: "cluster.queues",
    schema: M.ClusterQueues,
    consumer: "register-queues",
    msgId: (m) => `queues-${m.cluster}-${shortDigest(JSON.stringify(m), 24)}`,
  }),
  /** `dlq.<function>`: a message its consumer could never handle, with the reason. */
  deadLetter: jetstream({
    subject: "dlq.*",
    schema: M.DeadLetter,
    stream: Streams.dlq,
    address: (m) => `dlq.${m.function}`,
    msgId: (_m, at: { stream: string; seq: number }) => `${at.stream}-${at.seq}`,
  }),
} as const;

type Table = typeof Contracts;

/** The names of the functions that consume JetStream subjects. */
export type FunctionName = {
  // biome-ignore lint/suspicious/noExplicitAny: any subject, schema and key
  [K in keyof Table]: Table[K] extends JetStreamContract<any, any, any, infer Fn> ? Fn : never;
}[keyof Table];

/** The contracts a function consumes. */
export type ConsumedBy<F extends FunctionName> = {
  // biome-ignore lint/suspicious/noExplicitAny: any subject, schema and key
  [K in keyof Table]: Table[K] extends JetStreamContract<any, any, any, infer Fn>
    ? [Fn] extends [never]
      ? never
      : Fn extends F
        ? Table[K]
        : never
    : never;
}[keyof Table];

const all: readonly JetStreamContract[] = Object.values(Contracts);

/** The contracts a function consumes, in declaration order. */
export function consumedBy<F extends FunctionName>(fn: F): ConsumedBy<F>[] {
  return all.filter((c) => c.consumer === fn) as ConsumedBy<F>[];
}

/** Every function that consumes a JetStream subject, in declaration order. */
export function consumingFunctions(): FunctionName[] {
  return [...new Set(all.flatMap((c) => (c.consumer ? [c.consumer as FunctionName] : [])))];
}

/** The stream a function consumes from: exactly its subjects. */
export function functionStream(fn: FunctionName): StreamSpec {
  return { name: streamNameFor(fn), subjects: consumedBy(fn).map((c) => c.subject) };
}

/** Every stream an installation has: one per consuming function, then the shared ones. */
export function allStreams(): StreamSpec[] {
  return [...consumingFunctions().map(functionStream), ...Object.values(Streams)];
}
