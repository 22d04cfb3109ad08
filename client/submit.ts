import { randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectionToken } from "../bus/connect.ts";
import { Contracts } from "../bus/contracts.ts";
import { Events } from "../bus/events.ts";
import { openOwnBucket, putObject } from "../bus/objects.ts";
import { personStreams } from "../bus/person-streams.ts";
import { encodeFor } from "../bus/publish.ts";
import { SubmitReply, type WfSubmitInput } from "../bus/submit.ts";
import { RowBuffer } from "../core/row-buffer.ts";
import { capturedEnvironmentProblem, captureEnvironment } from "../core/task-env.ts";
import { dagCounts, dagLines } from "../submission/dag.ts";
import type { Submission } from "../submission/submission.ts";
import { validateSubmission } from "../submission/validate.ts";

/**
 * Submits a workflow over NATS alone: the DAG goes to the object store as gzip NDJSON
 * (streamed, in ~1 MB chunks), then one `wf.submit` message; bind-dag answers once the
 * workflow is bound or rejected.
 */

export interface SubmitOptions {
  resume?: boolean;
  resetRunning?: boolean;
  /** with resume: keep resources as of the last attempt, even after a memory or time kill */
  keepResources?: boolean;
  /** bind and hold: nothing runs until a release command */
  hold?: boolean;
  /** how long to wait for bind-dag's answer */
  timeoutMs?: number;
  /**
   * The environment the tasks start from (credentials and Drover's service settings
   * are left out, see core/task-env.ts). Default: this process's environment.
   */
  environment?: NodeJS.ProcessEnv;
  /** Where tasks run when the workflow sets no working_dir. Default: this process's folder. */
  workingDir?: string;
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
  const environment = captureEnvironment(options.environment ?? process.env);
  const tooLarge = capturedEnvironmentProblem(environment);
  if (tooLarge) throw new SubmitRejected(tooLarge, "invalid");
  const workflow = {
    ...submission.workflow,
    working_dir: submission.workflow.working_dir ?? resolve(options.workingDir ?? process.cwd()),
  };
  const submissionId = newSubmissionId();
  const objectName = `dag-${submissionId}`;
  const self = connectionToken(nc);
  const bucket = personStreams(self).bucket;
  const store = await openOwnBucket(nc, bucket);
  const { digest, size } = await putObject(store, objectName, gzipped(dagLines(submission))).catch(
    async (err: Error) => {
      if (!/maximum bytes exceeded|insufficient resources/i.test(err.message)) throw err;
      const cap = (await store.status().catch(() => undefined))?.streamInfo.config.max_bytes;
      throw new SubmitRejected(
        `the DAG does not fit in your DAG bucket ${bucket}${cap && cap > 0 ? `, which holds at most ${cap} bytes` : ""} (the site's DROVER_PERSON_MAX_BYTES): make the workflow smaller, or split it`,
        "invalid",
      );
    },
  );
  options.onUploaded?.({ size });
  const counts = dagCounts(submission);

  const message: WfSubmitInput = {
    v: 1,
    submission_id: submissionId,
    object: { bucket, name: objectName, digest, size },
    tool: submission.tool,
    workflow,
    environment,
    counts: { templates: counts.templates, tasks: counts.tasks, edges: counts.edges },
    resume: options.resume ?? false,
    reset_running: options.resetRunning ?? false,
    keep_resources: options.keepResources ?? false,
    hold: options.hold ?? false,
    user: userInfo().username,
    host: hostname(),
  };
  // Listen before publishing: the answer is core NATS and is not kept for latecomers.
  const replies = nc.subscribe(
    Events.submitReply.address(undefined as never, { owner: self, submission: submissionId }),
    { max: 1 },
  );
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const timer = setTimeout(() => replies.unsubscribe(), timeoutMs);
  try {
    // Message id = submission id (the contract's rule): a re-sent submit is stored once.
    const m = encodeFor(self, Contracts.submit, message);
    await jetstream(nc)
      .publish(m.subject, m.payload, { msgID: m.msgID })
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
