/**
 * Spec files (SPEC.md §1), YAML or JSON, to a validated Submission. The only I/O is
 * reading the file.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { SpecError } from "./errors.ts";
import { expandSpecFile } from "./expand.ts";
import { issueProblems, SpecFileSchema } from "./file-schema.ts";
import type { Catalog } from "./resolve.ts";
import type { Submission } from "./submission.ts";
import { validateSubmission } from "./validate.ts";

export type { SpecFile } from "./file-schema.ts";
export { SpecFileSchema, specFileJsonSchema } from "./file-schema.ts";

export type SpecFormat = "yaml" | "json";

export interface LoadOptions {
  /** When given, clusters, queues and resource limits are checked too. */
  catalog?: Catalog | undefined;
}

/** The format for a file name: .yml/.yaml → yaml, .json → json. */
export function specFormat(path: string): SpecFormat {
  const ext = extname(path).toLowerCase();
  if (ext === ".yml" || ext === ".yaml") return "yaml";
  if (ext === ".json") return "json";
  throw new SpecError(`${path}: unknown spec file type "${ext}" (use .yaml, .yml or .json)`);
}

export async function loadSpecFile(path: string, options: LoadOptions = {}): Promise<Submission> {
  const format = specFormat(path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err);
    throw new SpecError(`${path}: ${reason}`, { cause: err });
  }
  return parseSpec(text, format, options);
}

/** Parses, expands and validates a spec document. Throws SpecError listing every problem. */
export function parseSpec(text: string, format: SpecFormat, options: LoadOptions = {}): Submission {
  const raw = format === "json" ? parseJson(text) : parseYamlText(text);
  const parsed = SpecFileSchema.safeParse(raw);
  if (!parsed.success) throw new SpecError(issueProblems(parsed.error.issues, raw));
  const sub = expandSpecFile(parsed.data);
  validateSubmission(sub, options.catalog);
  return sub;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SpecError(`invalid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function parseYamlText(text: string): unknown {
  try {
    return parseYaml(text, { prettyErrors: true });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      throw new SpecError(`invalid YAML: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
