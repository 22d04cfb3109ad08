/**
 * A tool: the named, versioned program whose templates make up workflows (Jobmon's
 * Tool). Templates are looked up by name; defining one again with the same options
 * returns the existing template.
 */
import { SpecError } from "../submission/errors.ts";
import { checkName } from "../submission/names.ts";
import type { TemplateOptions, WorkflowOptions } from "./options.ts";
import { TaskTemplate } from "./template.ts";
import { Workflow } from "./workflow.ts";

export class Tool {
  private readonly templates = new Map<string, { template: TaskTemplate; options: string }>();

  constructor(
    readonly name: string,
    readonly version: string = "1",
  ) {
    const bad = checkName("tool", name);
    if (bad) throw new SpecError(bad);
    if (typeof version !== "string" || version === "") {
      throw new SpecError(`tool "${name}": version must be a non-empty string`);
    }
  }

  /** Defines a template, or returns the one already defined with the same options. */
  template(options: TemplateOptions): TaskTemplate {
    const key = JSON.stringify(options);
    const existing = this.templates.get(options.name);
    if (existing !== undefined) {
      if (existing.options === key) return existing.template;
      throw new SpecError(
        `template ${JSON.stringify(options.name)} is already defined in tool "${this.name}" with other options`,
      );
    }
    const template = new TaskTemplate(this, options);
    this.templates.set(template.name, { template, options: key });
    return template;
  }

  getTemplate(name: string): TaskTemplate | undefined {
    return this.templates.get(name)?.template;
  }

  /** The templates in the order they were defined. */
  get templateList(): TaskTemplate[] {
    return [...this.templates.values()].map((t) => t.template);
  }

  workflow(options: WorkflowOptions): Workflow {
    return new Workflow(this, options);
  }
}
