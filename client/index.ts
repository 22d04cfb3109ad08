/**
 * The TypeScript client: Tool → TaskTemplate → Task → Workflow, as in IHME's Jobmon.
 *
 *     const tool = new Tool("burden");
 *     const prep = tool.template({ name: "prep", command: "python prep.py --loc {location}", nodeArgs: ["location"] });
 *     const wf = tool.workflow({ name: "burden-2026", args: { round: 7 } });
 *     wf.addTasks(prep.createTasks({ foreach: { location: [1, 2, 3] } }));
 *     const submission = wf.toSubmission();
 */
import "./run.ts";

export type { WorkflowAnswer } from "../bus/queries.ts";
export { SpecError } from "../submission/errors.ts";
export type { Catalog } from "../submission/resolve.ts";
export type { Submission } from "../submission/submission.ts";
export { FINAL_WORKFLOW_STATUSES, followWorkflow } from "./follow.ts";
export {
  type ResourceScalesOptions,
  ResourceScalesOptionsSchema,
  type ResourcesOptions,
  ResourcesOptionsSchema,
  type TaskCommonOptions,
  TaskCommonOptionsSchema,
  type TemplateOptions,
  TemplateOptionsSchema,
  type WorkflowOptions,
  WorkflowOptionsSchema,
} from "./options.ts";
export { Queries, QueryFailed } from "./query.ts";
export { ServiceUnavailable } from "./request.ts";
export type { RunOptions, RunResult } from "./run.ts";
export { type BoundWorkflow, SubmitRejected, submitWorkflow } from "./submit.ts";
export { Task, type TaskSettings, type Upstream, type UpstreamMatch } from "./task.ts";
export { type TaskOptions, type TasksOptions, TaskTemplate } from "./template.ts";
export { Tool } from "./tool.ts";
export { type ToSubmissionOptions, Workflow } from "./workflow.ts";
