/**
 * `include` and `template_resources` of a spec file (SPEC.md §1), resolved before
 * expansion so that the rest of the loader sees plain template resources.
 *
 * Precedence, field by field: workflow default_resources < a template's own resources <
 * template_resources (from included files in order, then the spec file's own) < a task's
 * own resources. Suggested resources (`drover resources WF --yaml`) are measurements, so
 * they win over the guess a template was written with; a task that names its resources
 * asked for them on purpose.
 */
import { resolve } from "node:path";
import { Problems } from "./errors.ts";
import {
  IncludeFileSchema,
  issueProblems,
  type ResourcesFile,
  type SpecFile,
} from "./file-schema.ts";
import { normalizeResources } from "./normalize.ts";

export interface IncludeOptions {
  /** folder that include paths are relative to: the spec file's */
  baseDir: string;
  /** reads and parses one included file (YAML or JSON by its extension) */
  readDocument: (path: string) => unknown;
}

/** The spec with included template_resources merged and applied to its templates. */
export function applyIncludes(file: SpecFile, options: IncludeOptions): SpecFile {
  if (file.include === undefined && file.template_resources === undefined) return file;
  const problems = new Problems();
  // Each source in order of precedence, the spec file's own last.
  const sources: { from: string; entries: Record<string, ResourcesFile> }[] = [];
  for (const path of file.include ?? []) {
    const label = `include ${JSON.stringify(path)}`;
    const doc = problems.try(label, () => options.readDocument(resolve(options.baseDir, path)));
    if (doc === undefined) continue;
    const parsed = IncludeFileSchema.safeParse(doc);
    if (!parsed.success) {
      for (const p of issueProblems(parsed.error.issues, doc)) problems.add(`${label}: ${p}`);
      continue;
    }
    sources.push({ from: ` (from ${path})`, entries: parsed.data.template_resources ?? {} });
  }
  sources.push({ from: "", entries: file.template_resources ?? {} });

  const names = new Set(file.templates.map((t) => t.name));
  const known = [...names].sort().join(", ");
  const merged = new Map<string, ResourcesFile>();
  for (const { from, entries } of sources) {
    for (const [template, resources] of Object.entries(entries)) {
      const label = `template_resources.${template}${from}`;
      if (!names.has(template)) {
        problems.add(
          `${label}: unknown template ${JSON.stringify(template)} (templates: ${known})`,
        );
        continue;
      }
      // Checked here so that a bad amount is named where it was written.
      if (problems.try(label, () => normalizeResources(resources)) === undefined) continue;
      merged.set(template, { ...merged.get(template), ...resources });
    }
  }
  problems.throwIfAny();
  const { include: _include, template_resources: _own, ...rest } = file;
  return {
    ...rest,
    templates: file.templates.map((t) => {
      const extra = merged.get(t.name);
      return extra === undefined ? t : { ...t, resources: { ...t.resources, ...extra } };
    }),
  };
}
