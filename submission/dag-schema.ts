/** zod schemas of the DAG wire format's lines (DAG_FORMAT.md). */
import { z } from "zod";
import { TaskSpecSchema, TemplateSpecSchema } from "./submission.ts";

export const TemplateLineSchema = TemplateSpecSchema.extend({ kind: z.literal("template") });
export const TaskLineSchema = TaskSpecSchema.extend({
  kind: z.literal("task"),
  /** Position in the task lines, from 0; every upstream position is below it. */
  i: z.int().nonnegative(),
});
export const DagLineSchema = z.discriminatedUnion("kind", [TemplateLineSchema, TaskLineSchema]);

export type TemplateLine = z.infer<typeof TemplateLineSchema>;
export type TaskLine = z.infer<typeof TaskLineSchema>;
export type DagLine = z.infer<typeof DagLineSchema>;
