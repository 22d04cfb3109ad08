/**
 * Value conversions shared by the spec-file loader and the TypeScript client: scalar
 * values to strings, resource amounts to bytes and seconds.
 */
import { Problems, SpecError } from "./errors.ts";
import type { NormalizedResources, ResourceScales } from "./submission.ts";
import { parseMemory, parseRuntime } from "./units.ts";

export type Scalar = string | number | boolean;

/** Resources as users write them (spec file and client): units not yet parsed. */
export interface ResourceInput {
  cores?: number | undefined;
  memory?: string | number | undefined;
  runtime?: string | number | undefined;
  queue?: string | undefined;
  project?: string | undefined;
}

export interface ScalesInput {
  memory?: number | (string | number)[] | undefined;
  runtime?: number | (string | number)[] | undefined;
}

/** An arg or attribute value as the string it is compared and substituted as. */
export function scalarString(value: Scalar): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new SpecError(
    `${JSON.stringify(value) ?? String(value)} is not a string, number or boolean`,
  );
}

/** Scalars to strings, keeping key order. */
export function stringRecord(values: Readonly<Record<string, Scalar>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(values)) out[key] = scalarString(values[key] as Scalar);
  return out;
}

/** Throws SpecError listing every bad amount. */
export function normalizeResources(input: ResourceInput): NormalizedResources {
  const problems = new Problems();
  const out: NormalizedResources = {};
  if (input.cores !== undefined) {
    if (Number.isSafeInteger(input.cores) && input.cores > 0) out.cores = input.cores;
    else problems.add(`cores ${input.cores} must be a whole number more than zero`);
  }
  if (input.memory !== undefined) {
    const m = problems.try(undefined, () => parseMemory(input.memory as string | number));
    if (m !== undefined) out.memory_bytes = m;
  }
  if (input.runtime !== undefined) {
    const r = problems.try(undefined, () => parseRuntime(input.runtime as string | number));
    if (r !== undefined) out.runtime_seconds = r;
  }
  if (input.queue !== undefined) out.queue = input.queue;
  if (input.project !== undefined) out.project = input.project;
  problems.throwIfAny();
  return out;
}

/** Throws SpecError listing every bad factor or amount. */
export function normalizeScales(input: ScalesInput): ResourceScales {
  const problems = new Problems();
  const out: ResourceScales = {};
  const memory = scale(problems, "memory", input.memory, parseMemory);
  if (memory !== undefined) out.memory = memory;
  const runtime = scale(problems, "runtime", input.runtime, parseRuntime);
  if (runtime !== undefined) out.runtime = runtime;
  problems.throwIfAny();
  return out;
}

function scale(
  problems: Problems,
  what: string,
  value: number | (string | number)[] | undefined,
  parse: (v: string | number) => number,
): number | number[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "number") {
    if (value > 0 && Number.isFinite(value)) return value;
    problems.add(`resource_scales: ${what} factor ${value} must be more than zero`);
    return undefined;
  }
  if (value.length === 0) {
    problems.add(`resource_scales: ${what} list is empty`);
    return undefined;
  }
  const list: number[] = [];
  for (const v of value) {
    const parsed = problems.try("resource_scales", () => parse(v));
    if (parsed !== undefined) list.push(parsed);
  }
  return list.length === value.length ? list : undefined;
}
