/**
 * Every subject Drover uses, in one place. JetStream subjects are consumed by exactly
 * one function each (NATS 2.9: streams cannot share subjects, a consumer has one filter);
 * `evt.>`, `cmd.>`, `query.>` and replies are core NATS.
 */
export const Subjects = {
  /** A workflow submission: metadata plus the name of the uploaded DAG object. */
  submit: "wf.submit",
  /** bind-dag's answer to a submitter (core NATS), suffixed by the submission id. */
  submitReply: "wf.submit.reply",
  bound: "wf.bound",
  schedWake: "sched.wake",
  taskQueued: "task.queued",
  /** `launch.<cluster>`: one message per launch batch, consumed by that cluster's bridge. */
  launch: "launch",
  tiLaunched: "ti.launched",
  tiRunning: "ti.running",
  tiHeartbeat: "ti.heartbeat",
  tiDone: "ti.done",
  tiError: "ti.error",
  /** `ctl.<cluster>.kill`: kill orders to a cluster's bridge. */
  ctl: "ctl",
  /** `bridge.heartbeat.<cluster>`: a bridge telling it is alive. */
  bridgeHeartbeat: "bridge.heartbeat",
  /** A bridge telling which queues its cluster has, with their limits (slurm partitions). */
  clusterQueues: "cluster.queues",
  /** `dlq.<function>`: dead letters with the reason. */
  dlq: "dlq",
  /** `evt.<kind>.<workflow>`: status changes for live progress (core NATS). */
  evt: "evt",
  /** `cmd.<verb>`: state-changing commands (request/reply, answered after commit). */
  cmd: "cmd",
  /** `query.<what>`: read models (request/reply). */
  query: "query",
} as const;

export type Subject = (typeof Subjects)[keyof typeof Subjects];

export const launchSubject = (cluster: string) => `${Subjects.launch}.${cluster}`;
export const killSubject = (cluster: string) => `${Subjects.ctl}.${cluster}.kill`;
export const dlqSubject = (fn: string) => `${Subjects.dlq}.${fn}`;
export const submitReplySubject = (submissionId: string) =>
  `${Subjects.submitReply}.${submissionId}`;
export const bridgeHeartbeatSubject = (cluster: string) => `${Subjects.bridgeHeartbeat}.${cluster}`;

/**
 * The JetStream subjects each function consumes: one stream per function holding exactly
 * these. Every process provisions all of them at start, so a message is stored even when
 * its consumer has not started yet (a workflow submitted before `schedule` is up waits).
 */
export const FunctionSubjects = {
  "bind-dag": [Subjects.submit],
  schedule: [Subjects.bound, Subjects.schedWake],
  launch: [Subjects.taskQueued],
  heartbeat: [Subjects.tiLaunched, Subjects.tiRunning, Subjects.tiHeartbeat],
  complete: [Subjects.tiDone],
  retry: [Subjects.tiError],
  reap: [`${Subjects.bridgeHeartbeat}.*`],
  "register-queues": [Subjects.clusterQueues],
} as const satisfies Record<string, readonly string[]>;

/** Streams that are not owned by one function: bridges' inputs and the dead letters. */
export const SharedStreams = {
  launch: { name: "DROVER_LAUNCH", subjects: [`${Subjects.launch}.>`] },
  ctl: { name: "DROVER_CTL", subjects: [`${Subjects.ctl}.>`] },
  dlq: { name: "DROVER_DLQ", subjects: [`${Subjects.dlq}.>`] },
} as const;

/** The JetStream stream that holds a function's subjects (never one of SharedStreams). */
export function streamNameFor(functionName: string): string {
  return `DROVER_FN_${functionName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** True when a concrete subject matches a NATS pattern (`*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
