import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { createGzip } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Buckets, openBucket, putObject } from "../bus/objects.ts";
import { encodeMessage } from "../bus/publish.ts";
import { Subjects, submitReplySubject } from "../bus/subjects.ts";
import { SubmitReply, type WfSubmitInput } from "../bus/submit.ts";
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

/** Text handed to gzip at a time, and how much of it may wait to be compressed. */
const TEXT_CHUNK = 1 << 20;
const MAX_PENDING_TEXT = 8 << 20;

/**
 * The lines, gzip-compressed (level 1), as chunks. zlib compresses on the thread pool,
 * so it works on earlier text while this thread makes the next lines: a few MB may
 * wait for it before this waits for "drain".
 */
async function* gzipped(lines: Iterable<string>): AsyncGenerator<Uint8Array> {
  const gzip = createGzip({ level: 1, chunkSize: 256 * 1024 });
  const chunks: Buffer[] = [];
  let failure: Error | undefined;
  gzip.on("data", (c: Buffer) => chunks.push(c));
  gzip.on("error", (err) => {
    failure = err;
  });
  let buffer = "";
  for (const line of lines) {
    buffer += `${line}\n`;
    if (buffer.length >= TEXT_CHUNK) {
      gzip.write(buffer);
      buffer = "";
      if (gzip.writableLength > MAX_PENDING_TEXT) {
        await new Promise((r) => gzip.once("drain", r));
      }
      if (failure) throw failure;
      while (chunks.length > 0) yield chunks.shift()!;
    }
  }
  // "end" (not "finish"): the last compressed bytes are emitted after the input closes.
  const ended = new Promise<void>((resolve, reject) => {
    gzip.once("end", resolve);
    gzip.once("error", reject);
  });
  gzip.end(buffer);
  await ended;
  while (chunks.length > 0) yield chunks.shift()!;
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
