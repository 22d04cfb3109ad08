/** Shared by the loader tests: a small valid spec document to vary, and helpers. */
import assert from "node:assert/strict";
import { SpecError } from "../errors.ts";
import { parseSpec } from "../load.ts";

/** A small valid document to vary: templates prep(location; year), agg(location), all(), cell(location, year). */
export function doc(tasks: unknown[], extra: Record<string, unknown> = {}) {
  return {
    tool: { name: "t" },
    workflow: { name: "w" },
    templates: [
      {
        name: "prep",
        command: "p {location} {year}",
        node_args: ["location"],
        task_args: ["year"],
      },
      { name: "agg", command: "a {location}", node_args: ["location"] },
      { name: "all", command: "all" },
      { name: "cell", command: "c {location} {year}", node_args: ["location", "year"] },
    ],
    tasks,
    ...extra,
  };
}

export const load = (d: unknown) => parseSpec(JSON.stringify(d), "json");

export function rejects(d: unknown, ...patterns: RegExp[]): SpecError {
  let caught: unknown;
  try {
    load(d);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SpecError, `expected a SpecError, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}
