import { z } from "zod";
import { ToolSpecSchema, WorkflowSpecSchema } from "../submission/submission.ts";
import { SubmissionId } from "./schemas.ts";

/**
 * The submission message and its answer (their subjects are in bus/contracts.ts and
 * bus/events.ts). Any program that can write to a JetStream Object Store and
 * publish one message can submit a workflow (see `submission/DAG_FORMAT.md` for the object).
 *
 * Every step is under the submitter's user token `<me>` (core/identity.ts; with
 * credentials, the token they name), which NATS permissions make theirs alone:
 * 1. Upload the DAG as gzip-compressed NDJSON to the object store bucket `drover-dags-<me>`.
 * 2. Subscribe (core NATS) to `wf.reply.<me>.<submission_id>`.
 * 3. Publish `wf.submit.<me>` (JetStream, message id = submission id) with this message.
 * 4. The answer is a SubmitReply on the reply subject once the workflow is bound (or rejected).
 * The workflow's owner is `<me>`; `user` below is only informational.
 */
export const WfSubmit = z.object({
  v: z.literal(1),
  submission_id: SubmissionId,
  object: z.object({
    bucket: z.string().min(1),
    name: z.string().min(1),
    /** as reported by the object store (`SHA-256=<base64url>`), checked when read */
    digest: z.string().optional(),
    size: z.number().int().nonnegative().optional(),
  }),
  tool: ToolSpecSchema,
  workflow: WorkflowSpecSchema,
  counts: z.object({
    templates: z.number().int().nonnegative(),
    tasks: z.number().int().positive(),
    edges: z.number().int().nonnegative(),
  }),
  /** resubmitting a FAILED or HALTED workflow starts a new run instead of an error */
  resume: z.boolean().default(false),
  /** with resume: cold (kill live instances and rerun their tasks) */
  reset_running: z.boolean().default(false),
  /**
   * bind, then hold: the workflow stays REGISTERING, nothing runs until a release
   * command (as Jobmon's bind() before run())
   */
  hold: z.boolean().default(false),
  /**
   * with resume: keep every task's resources as of its last attempt; by default a task
   * whose last attempt ran out of memory or time gets more of it (as a retry would)
   */
  keep_resources: z.boolean().default(false),
  /**
   * The submitter's environment as captured at submit (core/task-env.ts
   * captureEnvironment: credentials and service settings already left out; bind-dag
   * leaves them out again). Under the workflow's `env`, for every task of the workflow.
   * Absent: the tasks get only their spec's `env` (and a PATH).
   */
  environment: z.record(z.string(), z.string()).optional(),
  /** the submitting OS user and host, recorded with the run */
  user: z.string().max(255).default("unknown"),
  host: z.string().max(255).default("unknown"),
});
export type WfSubmit = z.infer<typeof WfSubmit>;
export type WfSubmitInput = z.input<typeof WfSubmit>;

export const SubmitReply = z.discriminatedUnion("ok", [
  z.object({
    ok: z.literal(true),
    workflow_id: z.number().int().positive(),
    run_id: z.number().int().positive(),
    status: z.string(),
    /** "new", "resumed", or "existing" (an identity already DONE: nothing runs) */
    outcome: z.enum(["new", "resumed", "existing"]),
    /**
     * resumed: the tasks whose command the new submission changed (op args), at most
     * 50,000 of them; changed_count counts them all
     */
    changed_commands: z.array(z.number().int().positive()).optional(),
    changed_count: z.number().int().nonnegative().optional(),
  }),
  z.object({
    ok: z.literal(false),
    /** "invalid": the submission was rejected; "failed": binding failed (workflow ABORTED) */
    reason: z.enum(["invalid", "conflict", "failed"]),
    error: z.string(),
    workflow_id: z.number().int().positive().optional(),
  }),
]);
export type SubmitReply = z.infer<typeof SubmitReply>;
