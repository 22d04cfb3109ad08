// `drover dependencies` and `drover resources` as users run them: subprocesses against a
// stack started by `drover up`, real commands on cluster `local`.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import { parse } from "yaml";
import type { ResourcesAnswer } from "../bus/queries.ts";
import { createSql } from "../store/connect.ts";
import { roundUpMemory } from "../submission/units.ts";
import { type CliStack, cliStackUp, json } from "./helpers/cli.ts";

let stack: CliStack;
let sql: Sql;
/** the first hungry workflow, retried into DONE */
let hungryWf: number;

before(() => {
  stack = cliStackUp("drover-cli-read-");
  sql = createSql(stack.databaseUrl, { max: 2 });
});
after(async () => {
  await sql?.end();
  stack?.down();
});

const drover = (args: string[]) => stack.drover(args);

/** Submits a spec file and waits for its end; returns the final status document. */
function run(name: string, text: string, expectCode = 0): Record<string, unknown> {
  const path = join(stack.home, name);
  writeFileSync(path, text);
  const r = drover(["submit", path, "--wait", "--json"]);
  assert.equal(r.code, expectCode, r.stderr);
  return json(r);
}

type Task = { id: number; name: string; template: string; status: string; attempts: number };

function tasks(wf: unknown): Task[] {
  const r = drover(["tasks", String(wf), "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return json(r).tasks as Task[];
}

/** Percentile by linear interpolation between closest ranks (Postgres's percentile_cont). */
function percentile(sorted: number[], p: number): number {
  const at = p * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

function byHand(values: (number | null)[]) {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  if (v.length === 0)
    return { min: null, max: null, mean: null, median: null, p90: null, p95: null };
  return {
    min: v[0]!,
    max: v.at(-1)!,
    mean: v.reduce((a, b) => a + b, 0) / v.length,
    median: percentile(v, 0.5),
    p90: percentile(v, 0.9),
    p95: percentile(v, 0.95),
  };
}

function assertClose(
  actual: Record<string, unknown>,
  expected: Record<string, number | null>,
  what: string,
) {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), what);
  for (const [k, e] of Object.entries(expected)) {
    const a = actual[k] as number | null;
    if (e === null || a === null) assert.equal(a, e, `${what}.${k}`);
    else assert.ok(Math.abs(a - e) <= 1e-9 * Math.max(1, Math.abs(e)), `${what}.${k}: ${a} ≠ ${e}`);
  }
}

describe("drover dependencies and resources", { timeout: 300_000 }, () => {
  test("dependencies of a diamond: direct neighbours each way, paged, unknown task exit 2", () => {
    const end = run(
      "diamond.yaml",
      `tool: { name: cli_read_test }
workflow: { name: diamond, default_cluster: local }
templates:
  - { name: top, command: "echo top" }
  - { name: mid, command: "echo mid {i}", node_args: [i] }
  - { name: bottom, command: "echo bottom" }
tasks:
  - { template: top }
  - { template: mid, foreach: { i: [1, 2] }, upstream: [top] }
  - { template: bottom, upstream: [{ template: mid }] }
`,
    );
    assert.equal(end.status, "DONE");
    const t = Object.fromEntries(tasks(end.id).map((x) => [x.name, x]));
    const n = (name: string) => ({
      id: t[name]!.id,
      name,
      template: t[name]!.template,
      status: "DONE",
    });

    const mid = drover(["dependencies", String(t["mid_i-1"]!.id), "--json"]);
    assert.equal(mid.code, 0, mid.stderr);
    assert.deepEqual(json(mid), {
      task: t["mid_i-1"]!.id,
      upstream: [n("top")],
      downstream: [n("bottom")],
      upstream_total: 1,
      downstream_total: 1,
      limit: 100,
      offset: 0,
    });
    const bottom = json(drover(["dependencies", String(t["bottom"]!.id), "--json"]));
    assert.deepEqual(bottom.upstream, [n("mid_i-1"), n("mid_i-2")]);
    assert.deepEqual([bottom.downstream, bottom.downstream_total], [[], 0]);
    const second = json(
      drover(["dependencies", String(t["bottom"]!.id), "--limit", "1", "--offset", "1", "--json"]),
    );
    assert.deepEqual([second.upstream, second.upstream_total], [[n("mid_i-2")], 2]);

    // Text: two tables; a page says which part of how many it shows and how to go on.
    const text = drover(["dependencies", String(t["bottom"]!.id), "--limit", "1"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^upstream \(1-1 of 2\):\n\s+ID\s+NAME\s+TEMPLATE\s+STATUS\n/m);
    assert.match(
      text.stdout,
      new RegExp(`^\\s+${t["mid_i-1"]!.id}\\s+mid_i-1\\s+mid\\s+DONE$`, "m"),
    );
    assert.match(text.stdout, /… and 1 more \(--offset 1 for the next page\)/);
    assert.match(text.stdout, /^downstream: none$/m);

    const unknown = drover(["dependencies", "999999", "--json"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /task 999999 does not exist/);
    assert.deepEqual(json(unknown), { error: "task 999999 does not exist" });
    const badLimit = drover(["dependencies", "1", "--limit", "0"]);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /--limit must be a whole number from 1 to 2000/);
  });

  test("resources: statistics over DONE instances; --yaml sizes a new workflow that succeeds at once", async () => {
    // Each hungry task needs more than 100M: its first attempt is killed, the retry with
    // memory × 4 succeeds.
    const spec = (round: number, include: string) => `tool: { name: cli_read_test }
workflow: { name: hungry, args: { round: ${round} }, default_cluster: local }
${include}templates:
  - name: hungry
    command: >-
      python3 -c "import time; x = b'x' * ({mb} << 20); time.sleep(1)"
    node_args: [mb]
    resources: { memory: 100M, runtime: 10m }
    resource_scales: { memory: 3 }
  - { name: light, command: "echo light {i}", node_args: [i] }
tasks:
  - { template: hungry, foreach: { mb: [200, 250] } }
  - { template: light, foreach: { i: [1, 2, 3] } }
`;
    const first = run("hungry-1.yaml", spec(1, ""));
    assert.equal(first.status, "DONE");
    const wf = Number(first.id);
    hungryWf = wf;
    for (const task of tasks(wf).filter((x) => x.template === "hungry")) {
      assert.equal(task.attempts, 2, `${task.name} was retried once`);
      const detail = json(drover(["task", String(task.id), "--json"]));
      const [killed, done] = detail.instances as Record<string, unknown>[];
      assert.equal(killed!.status, "RESOURCE_ERROR");
      assert.match(String(killed!.error), /memory/i);
      assert.equal(done!.memory_requested, 400 * 1024 ** 2);
    }

    // --json against the instances in the database, computed here.
    const r = drover(["resources", String(wf), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const answer = json(r) as unknown as ResourcesAnswer;
    assert.equal(answer.workflow, wf);
    const rows = await sql<
      {
        template: string;
        memory_used: number | null;
        runtime_used: number | null;
        memory_requested: number;
        runtime_requested: number;
      }[]
    >`
      select tt.name as template, i.memory_used, i.runtime_used, i.memory_requested,
        i.runtime_requested
      from task_instance i join task t on t.id = i.task_id
      join task_array a on a.id = t.array_id
      join task_template_version v on v.id = a.task_template_version_id
      join task_template tt on tt.id = v.task_template_id
      where i.workflow_id = ${wf} and i.status = 'DONE'`;
    assert.deepEqual(
      answer.templates.map((x) => x.template),
      ["hungry", "light"],
    );
    for (const entry of answer.templates) {
      const name = entry.template;
      const mine = rows.filter((x) => x.template === name);
      assert.equal(entry.done, mine.length, `${name} DONE instances`);
      for (const [metric, used, requested] of [
        ["memory", "memory_used", "memory_requested"],
        ["runtime", "runtime_used", "runtime_requested"],
      ] as const) {
        const u = entry[metric];
        assertClose({ ...u.used }, byHand(mine.map((x) => x[used])), `${name}.${metric}`);
        const asked = mine.map((x) => x[requested]);
        assert.deepEqual(u.requested, { min: Math.min(...asked), max: Math.max(...asked) });
        assert.equal(u.measured, mine.filter((x) => x[used] !== null).length);
      }
      assert.deepEqual([entry.cores, entry.queue], [1, "all.q"]);
    }
    const hungryUsed = byHand(
      rows.filter((x) => x.template === "hungry").map((x) => x.memory_used),
    );
    assert.ok(hungryUsed.max! > 250 * 1024 ** 2, `the 250M task used ${hungryUsed.max}`);

    const text = drover(["resources", String(wf)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^memory used:\n\s+TEMPLATE\s+DONE\s+MIN\s+MEDIAN\s+MEAN\s+P90\s+P95\s+MAX\s+REQUESTED\n/m,
    );
    assert.match(text.stdout, /^\s+hungry\s+2\s.*\s400M$/m);

    // --yaml --strategy max: the largest use × 1.2, rounded up to 256M.
    const yaml = drover(["resources", String(wf), "--yaml", "--strategy", "max"]);
    assert.equal(yaml.code, 0, yaml.stderr);
    const suggested = parse(yaml.stdout).template_resources;
    const memory = roundUpMemory(hungryUsed.max! * 1.2);
    assert.deepEqual(suggested.hungry, {
      memory: memory % 1024 ** 3 === 0 ? `${memory / 1024 ** 3}G` : `${memory / 1024 ** 2}M`,
      runtime: "1m",
      cores: 1,
      queue: "all.q",
    });
    writeFileSync(join(stack.home, "resources.yaml"), yaml.stdout);

    // The same tasks under new workflow args, including the suggestion: the template's
    // 100M is overridden, and every task succeeds on its first attempt.
    const second = run("hungry-2.yaml", spec(2, "include: [resources.yaml]\n"));
    assert.equal(second.status, "DONE");
    assert.notEqual(second.id, wf);
    for (const task of tasks(second.id)) {
      assert.equal(task.attempts, 1, `${task.name} needed ${task.attempts} attempts`);
    }
    const hungry = tasks(second.id).find((x) => x.template === "hungry")!;
    const detail = json(drover(["task", String(hungry.id), "--json"]));
    assert.equal((detail.instances as { memory_requested: number }[])[0]!.memory_requested, memory);
    assert.match(readFileSync(join(stack.home, "resources.yaml"), "utf8"), /times 1\.2/);
  });

  test("resources: one template; unknown workflow, template or strategy exit 2 naming it", () => {
    const wf = String(hungryWf);
    const one = json(drover(["resources", wf, "--template", "light", "--json"]));
    assert.deepEqual(
      (one.templates as { template: string }[]).map((t) => t.template),
      ["light"],
    );
    const cases: [string[], RegExp][] = [
      [["resources", "999999"], /workflow 999999 does not exist/],
      [
        ["resources", wf, "--template", "nope"],
        /has no template "nope" \(its templates: hungry, light\)/,
      ],
      [
        ["resources", wf, "--yaml", "--strategy", "median"],
        /--strategy must be one of avg, max, min/,
      ],
      [["resources", wf, "--strategy", "max"], /--strategy goes with --yaml/],
      [["resources", wf, "--yaml"], /cannot be combined/],
    ];
    for (const [args, message] of cases) {
      const r = drover([...args, "--json"]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.match(String(json(r).error), message, args.join(" "));
    }
    for (const c of ["dependencies", "resources"]) {
      const help = drover([c, "--help"]);
      assert.equal(help.code, 0, c);
      assert.match(help.stdout, /Example/, c);
    }
  });
});
