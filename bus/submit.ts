import { z } from "zod";
import { ToolSpecSchema, WorkflowSpecSchema } from "../spec/submission.ts";
import { registerSchema } from "./publish.ts";
import { SubmissionId } from "./schemas.ts";
import { Subjects } from "./subjects.ts";

/**
 * The submission contract: any program that can write to a JetStream Object Store and
 * publish one message can submit a workflow (see `spec/DAG_FORMAT.md` for the object).
 *
 * 1. Upload the DAG as gzip-compressed NDJSON to the object store bucket `drover-dags`.
 * 2. Subscribe (core NATS) to `wf.submit.reply.<submission_id>`.
 * 3. Publish `wf.submit` (JetStream, message id = submission id) with this message.
 * 4. The answer is a SubmitReply on the reply subject once the workflow is bound (or rejected).
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

registerSchema(Subjects.submit, WfSubmit);
