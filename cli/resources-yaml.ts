// `drover resources WF --yaml`: suggested resources per template, as a spec file's
// `template_resources` (SPEC.md §1), so that a spec can `include:` the output as it is.
import { stringify } from "yaml";
import type { ResourcesAnswer, UsageStats } from "../bus/queries.ts";
import { formatMemory, roundUpMemory, roundUpRuntime } from "../submission/units.ts";

export const STRATEGIES = ["avg", "max", "min"] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Over the chosen statistic: what was used varies from run to run. */
export const HEADROOM = 1.2;

/** The rule, as `--help` and the file's header state it. */
export const RULE = `the statistic of what DONE instances used, times ${HEADROOM}, rounded up:
memory to a multiple of 256M, runtime to whole minutes (5 minutes past an hour);
cores and queue as the DONE instances were launched with (the most cores; the
queue most of them ran on)`;

const STAT: Record<Strategy, keyof UsageStats> = { avg: "mean", max: "max", min: "min" };

type Template = ResourcesAnswer["templates"][number];

export function resourcesYaml(answer: ResourcesAnswer, strategy: Strategy): string {
  const lines = [
    `# Suggested resources per template of workflow ${answer.workflow} (strategy ${strategy}). Each is`,
    ...`${RULE}.`.split("\n").map((l) => `# ${l}`),
    "# Include this file from a spec file (include: [this-file.yaml]): its values win over",
    "# a template's own resources there; a task's own resources still win over them.",
  ];
  const entries: string[] = [];
  const skipped: string[] = [];
  for (const t of answer.templates) {
    const fields = suggestion(t, strategy);
    if (fields.length === 0) {
      skipped.push(
        `  # ${scalar(t.template)}: ${t.done === 0 ? "no DONE instance" : "nothing measured"}, nothing suggested`,
      );
      continue;
    }
    entries.push(`  ${scalar(t.template)}:${usedComment(t, strategy)}`);
    for (const [k, v] of fields) entries.push(`    ${k}: ${scalar(v)}`);
  }
  // With every template skipped the map must still be a map, not null.
  lines.push(entries.length === 0 ? "template_resources: {}" : "template_resources:");
  return `${[...lines, ...entries, ...skipped].join("\n")}\n`;
}

function suggestion(t: Template, strategy: Strategy): [string, string | number][] {
  if (t.done === 0) return [];
  const stat = STAT[strategy];
  const memory = t.memory.used[stat];
  const runtime = t.runtime.used[stat];
  const out: [string, string | number][] = [];
  if (memory !== null) out.push(["memory", memoryAmount(roundUpMemory(memory * HEADROOM))]);
  if (runtime !== null) out.push(["runtime", runtimeAmount(roundUpRuntime(runtime * HEADROOM))]);
  if (out.length === 0) return [];
  if (t.cores !== null) out.push(["cores", t.cores]);
  if (t.queue !== null) out.push(["queue", t.queue]);
  return out;
}

function usedComment(t: Template, strategy: Strategy): string {
  const stat = STAT[strategy];
  const m = t.memory.used[stat];
  const r = t.runtime.used[stat];
  const memory = m === null ? "memory not measured" : `memory ${formatMemory(m)}`;
  const runtime = r === null ? "runtime not measured" : `runtime ${r.toFixed(1)}s`;
  return `  # ${t.done} DONE; ${strategy} used: ${memory}, ${runtime}`;
}

/** Exact, unlike formatMemory (whose two decimals of a T could round a step away). */
function memoryAmount(bytes: number): string {
  const gib = 1024 ** 3;
  return bytes % gib === 0 ? `${bytes / gib}G` : `${Math.ceil(bytes / 1024 ** 2)}M`;
}

/** Whole minutes as the spec reads them: `2h`, `65m`. */
function runtimeAmount(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** A YAML scalar, quoted only where YAML needs it. */
function scalar(value: string | number): string {
  return stringify(value).trimEnd();
}
