// drover resources WF: memory and runtime used per template against what was requested,
// or (--yaml) the resources to request next time, as a file a spec can include.
import type { ResourcesAnswer, ResourceUsage } from "../../bus/queries.ts";
import { QueryFailed } from "../../client/query.ts";
import { formatMemory, formatRuntime } from "../../submission/units.ts";
import { CliError, defineCommand, UsageError, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";
import { table } from "../render.ts";
import { RULE, resourcesYaml, STRATEGIES, type Strategy } from "../resources-yaml.ts";

export const command = defineCommand({
  name: "resources",
  summary: "memory and runtime used per template; --yaml: resources to request next time",
  usage: `Usage: drover resources WF [--template T] [--json]
       drover resources WF [--template T] --yaml [--strategy avg|max|min]

Per template of workflow WF, over its DONE instances: how many there are, memory and
runtime used (min, max, mean, median, p90, p95), and what they requested.

With --yaml, print suggested resources per template as a spec file's
template_resources, to include from a spec file (include: [resources.yaml]). Each value is
${RULE}.
Templates without a DONE instance are listed as comments, not guessed.

Options:
  --template T      only template T
  --yaml            print suggested resources as YAML
  --strategy S      with --yaml: the statistic to start from, avg, max or min (default max)
  --json            print {"workflow", "templates": [{"template", "done", "memory": {"measured",
                    "used": {"min", "max", "mean", "median", "p90", "p95"}, "requested":
                    {"min", "max"}}, "runtime": {…}, "cores", "queue"}]} (bytes, seconds)
  -h, --help        show this help

Example:
  drover resources 12
  drover resources 12 --yaml --strategy max > resources.yaml   # then in the spec file:
                                                               #   include: [resources.yaml]
`,
  options: {
    template: { type: "string" },
    yaml: { type: "boolean" },
    strategy: { type: "string" },
    json: { type: "boolean" },
  },
  positionals: ["WF"],
  async run({ values, positionals, json }, io) {
    const id = parseId(positionals[0], "WF");
    const strategy = parseStrategy(values.strategy, values.yaml === true);
    if (values.yaml && json) throw new UsageError("--yaml and --json cannot be combined");
    const answer = await withQueries(io, (q) =>
      q
        .resources({
          workflow_id: id,
          ...(values.template === undefined ? {} : { template: values.template }),
        })
        .catch((err) => {
          throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
        }),
    );
    if (json) writeJson(io, answer);
    else if (values.yaml) io.stdout(resourcesYaml(answer, strategy));
    else io.stdout(renderResources(answer));
    return 0;
  },
});

function parseStrategy(raw: string | undefined, yaml: boolean): Strategy {
  if (raw === undefined) return "max";
  if (!yaml) throw new UsageError("--strategy goes with --yaml");
  if (!(STRATEGIES as readonly string[]).includes(raw)) {
    throw new UsageError(`--strategy must be one of ${STRATEGIES.join(", ")}, not '${raw}'`);
  }
  return raw as Strategy;
}

function renderResources(answer: ResourcesAnswer): string {
  const out = [`workflow ${answer.workflow}: resources used by DONE instances, per template`];
  const part = (
    title: string,
    pick: (t: ResourcesAnswer["templates"][number]) => ResourceUsage,
    fmt: (n: number) => string,
  ) => {
    const rows = answer.templates.map((t) => {
      const u = pick(t);
      const cell = (n: number | null) => (n === null ? "-" : fmt(n));
      const { min, max } = u.requested;
      const requested =
        min === null || max === null ? "-" : min === max ? fmt(min) : `${fmt(min)}-${fmt(max)}`;
      const s = u.used;
      return [
        t.template,
        String(t.done),
        ...[s.min, s.median, s.mean, s.p90, s.p95, s.max].map(cell),
        requested,
      ];
    });
    const headers = ["TEMPLATE", "DONE", "MIN", "MEDIAN", "MEAN", "P90", "P95", "MAX", "REQUESTED"];
    out.push("", `${title}:`, ...table(headers, rows, [1, 2, 3, 4, 5, 6, 7]).map((l) => `  ${l}`));
  };
  part("memory used", (t) => t.memory, formatMemory);
  part("runtime used", (t) => t.runtime, seconds);
  return `${out.join("\n")}\n`;
}

/** Tenths of a second for short runs; whole units beyond a minute. */
function seconds(n: number): string {
  return n < 60 ? `${n.toFixed(1)}s` : formatRuntime(n);
}
