/**
 * Spec files (SPEC.md §1), YAML or JSON, to a validated Submission. The only I/O is
 * reading the file and the files it includes.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { SpecError } from "./errors.ts";
import { expandSpecFile } from "./expand.ts";
import type { SpecFile } from "./file-schema.ts";
import { issueProblems, SpecFileSchema } from "./file-schema.ts";
import { applyIncludes } from "./include.ts";
import type { Catalog } from "./resolve.ts";
import type { Submission } from "./submission.ts";
import { validateSubmission } from "./validate.ts";

export type { SpecFile } from "./file-schema.ts";
export { SpecFileSchema, specFileJsonSchema } from "./file-schema.ts";

export type SpecFormat = "yaml" | "json";

export interface LoadOptions {
  /** When given, clusters, queues and resource limits are checked too. */
  catalog?: Catalog | undefined;
  /** Folder that `include` paths are relative to (default: the working directory). */
  baseDir?: string | undefined;
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
  return parseSpec(text, format, { ...options, baseDir: options.baseDir ?? dirname(path) });
}

/** Parses, expands and validates a spec document. Throws SpecError listing every problem. */
export function parseSpec(text: string, format: SpecFormat, options: LoadOptions = {}): Submission {
  const raw = format === "json" ? parseJson(text) : parseYamlText(text);
  const parsed = SpecFileSchema.safeParse(raw);
  if (!parsed.success) throw new SpecError(issueProblems(parsed.error.issues, raw));
  const baseDir = resolve(options.baseDir ?? process.cwd());
  const file = applyIncludes(resolveWorkingDirs(parsed.data, baseDir), {
    baseDir,
    readDocument: readIncluded,
  });
  const sub = expandSpecFile(file);
  validateSubmission(sub, options.catalog);
  return sub;
}

/** Every `working_dir` of the file made absolute, relative ones against its folder. */
function resolveWorkingDirs(file: SpecFile, baseDir: string): SpecFile {
  const at = <T extends { working_dir?: string | undefined }>(level: T): T =>
    level.working_dir === undefined
      ? level
      : { ...level, working_dir: resolve(baseDir, level.working_dir) };
  return {
    ...file,
    workflow: at(file.workflow),
    templates: file.templates.map(at),
    tasks: file.tasks.map(at),
  };
}

/** An included file, parsed by its extension. Small files: read synchronously. */
function readIncluded(path: string): unknown {
  const format = specFormat(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err);
    throw new SpecError(`${reason} (${path})`, { cause: err });
  }
  return format === "json" ? parseJson(text) : parseYamlText(text);
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
    // The parser recurses: a document nested thousands deep overflows its stack.
    if (err instanceof RangeError || /Maximum call stack/.test((err as Error).message)) {
      throw new SpecError("invalid YAML: the document is nested too deeply", { cause: err });
    }
    if (err instanceof YAMLParseError) {
      throw new SpecError(`invalid YAML: ${err.message}`, { cause: err });
    }
    throw err;
  }
}
