import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Buckets, openBucket, putObject } from "../bus/objects.ts";
import { encodeMessage } from "../bus/publish.ts";
import { Subjects, submitReplySubject } from "../bus/subjects.ts";
import { SubmitReply, type WfSubmitInput } from "../bus/submit.ts";
import { RowBuffer } from "../db/copy.ts";
import { dagCounts, dagLines } from "../spec/dag.ts";
import type { Submission } from "../spec/submission.ts";
import { validateSubmission } from "../spec/validate.ts";

/**
 * Submits a workflow over NATS alone: the DAG goes to the object store as gzip NDJSON
 * (streamed, in ~1 MB chunks), then one `wf.submit` message; bind-dag answers once the
 * workflow is bound or rejected.
 */

export interface SubmitOptions {
  resume?: boolean;
  resetRunning?: boolean;
  /** how long to wait for bind-dag's answer */
  timeoutMs?: number;
  /** called once the DAG is in the object store, before the submit is published */
  onUploaded?: (object: { size: number }) => void;
}

export class SubmitRejected extends Error {
  override name = "SubmitRejected";
  constructor(
    message: string,
    readonly reason: "invalid" | "conflict" | "failed" | "timeout",
    readonly workflowId?: number,
  ) {
    super(message);
  }
}

export type BoundWorkflow = Extract<SubmitReply, { ok: true }>;

function newSubmissionId(): string {
  return randomBytes(12).toString("base64url");
}

/** Text compressed as one gzip member, and how many members may be compressing at once. */
const MEMBER_BYTES = 1 << 20;
const MEMBERS_IN_FLIGHT = 4;

const gzipMember = promisify(gzip);

/**
 * The lines, gzip-compressed (level 1), as chunks: one gzip member per ~1 MB of text
 * (RFC 1952: a gzip file is a series of members; gunzip, Node's and Python's readers
 * read them as one stream). The members are compressed on the thread pool, several at
 * once, while this thread makes the next lines: one deflate stream could not keep up
 * with the lines (this thread waited 0.9 s for it per million tasks). Each line is
 * encoded straight into a Buffer: a string of a thousand lines kept them all alive
 * through every scavenge (2.3 s of GC per million lines).
 */
async function* gzipped(lines: Iterable<string>): AsyncGenerator<Uint8Array> {
  const members: Promise<Buffer>[] = [];
  const compress = (text: Buffer) => {
    const member = gzipMember(text, { level: 1 });
    member.catch(() => {}); // awaited in turn; not an unhandled rejection meanwhile
    members.push(member);
  };
  const text = new RowBuffer(MEMBER_BYTES);
  for (const line of lines) {
    text.line(`${line}\n`);
    if (text.full) {
      compress(text.take().chunk);
      if (members.length >= MEMBERS_IN_FLIGHT) yield await members.shift()!;
    }
  }
  if (text.size > 0 || members.length === 0) compress(text.take().chunk);
  while (members.length > 0) yield await members.shift()!;
}

export async function submitWorkflow(
  nc: NatsConnection,
  submission: Submission,
  options: SubmitOptions = {},
): Promise<BoundWorkflow> {
  // Built by toSubmission or loaded from a file, its tasks were checked just now.
  validateSubmission(submission, undefined, { reuseTaskChecks: true });
  const submissionId = newSubmissionId();
  const objectName = `dag-${submissionId}`;
  const store = await openBucket(nc, Buckets.dags);
  const { digest, size } = await putObject(store, objectName, gzipped(dagLines(submission)));
  options.onUploaded?.({ size });
  const counts = dagCounts(submission);

  const message: WfSubmitInput = {
    v: 1,
    submission_id: submissionId,
    object: { bucket: Buckets.dags, name: objectName, digest, size },
    tool: submission.tool,
    workflow: submission.workflow,
    counts: { templates: counts.templates, tasks: counts.tasks, edges: counts.edges },
    resume: options.resume ?? false,
    reset_running: options.resetRunning ?? false,
    user: userInfo().username,
    host: hostname(),
  };
  // Listen before publishing: the answer is core NATS and is not kept for latecomers.
  const replies = nc.subscribe(submitReplySubject(submissionId), { max: 1 });
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const timer = setTimeout(() => replies.unsubscribe(), timeoutMs);
  try {
    await jetstream(nc)
      .publish(Subjects.submit, encodeMessage(Subjects.submit, message), { msgID: submissionId })
      .catch((err: Error) => {
        // No stream takes wf.submit: no Drover function ever started on this NATS.
        throw /no responders|not enabled/i.test(err.message)
          ? new SubmitRejected(
              "no Drover stack is listening on this NATS (start one with 'drover up')",
              "timeout",
            )
          : err;
      });
    for await (const m of replies) {
      const answer = SubmitReply.parse(m.json());
      if (answer.ok) return answer;
      throw new SubmitRejected(answer.error, answer.reason, answer.workflow_id);
    }
  } finally {
    clearTimeout(timer);
  }
  throw new SubmitRejected(
    `no answer from bind-dag within ${Math.round(timeoutMs / 1000)} s: is the Drover stack running (drover up)?`,
    "timeout",
  );
}
