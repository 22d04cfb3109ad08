import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DagLineSchema, DagReader, dagCounts, dagLines } from "./dag.ts";
import { SpecError } from "./errors.ts";
import { submissionHashes } from "./hash.ts";
import { loadSpecFile } from "./load.ts";
import type { Submission, TaskSpec } from "./submission.ts";

const example = () => loadSpecFile(fileURLToPath(new URL("testdata/burden.yaml", import.meta.url)));

function read(lines: Iterable<string>, reader = new DagReader()) {
  for (const l of lines) reader.add(JSON.parse(l));
  return reader.finish();
}

function sub(tasks: TaskSpec[]): Submission {
  return {
    tool: { name: "t", version: "1" },
    workflow: { name: "w", default_cluster: "local", default_max_attempts: 3, fail_fast: false },
    templates: [{ name: "x", command: "x {n}", node_args: ["n"], task_args: [], op_args: [] }],
    tasks,
  };
}
const t = (n: string, upstream: number[] = []): TaskSpec => ({
  template: "x",
  name: `x_n-${n}`,
  args: { n },
  upstream,
});

const template = {
  kind: "template",
  name: "x",
  command: "x {n}",
  node_args: ["n"],
  task_args: [],
  op_args: [],
};
const line = (i: number, n: string, upstream: number[] = []) => ({
  kind: "task",
  i,
  ...t(n, upstream),
});

function readerRejects(values: unknown[], pattern: RegExp): void {
  const reader = new DagReader();
  assert.throws(
    () => {
      for (const v of values) reader.add(v);
      reader.finish();
    },
    (e) => e instanceof SpecError && pattern.test(e.message),
  );
}

describe("dagLines", () => {
  test("templates first, then tasks; every line parses and upstream < i", async () => {
    const s = await example();
    const lines = [...dagLines(s)].map((l) => DagLineSchema.parse(JSON.parse(l)));
    assert.deepEqual(
      lines.map((l) => l.kind),
      [...Array(3).fill("template"), ...Array(9).fill("task")],
    );
    for (const l of lines) {
      if (l.kind === "task") for (const u of l.upstream) assert.ok(u < l.i);
    }
    assert.deepEqual(dagCounts(s), { templates: 3, tasks: 9, edges: 11 });
  });

  test("an order that is already topological is kept", async () => {
    const s = await example();
    const names = [...dagLines(s)].slice(3).map((l) => JSON.parse(l).name);
    assert.deepEqual(
      names,
      s.tasks.map((x) => x.name),
    );
  });

  test("reorders topologically and renumbers upstream", () => {
    // c <- b <- a written downstream-first.
    const s = sub([t("c", [1]), t("b", [2]), t("a"), t("d", [0, 0])]);
    const lines = [...dagLines(s)].map((l) => JSON.parse(l));
    const tasks = lines.slice(1);
    assert.deepEqual(
      tasks.map((x) => [x.i, x.name, x.upstream]),
      [
        [0, "x_n-a", []],
        [1, "x_n-b", [0]],
        [2, "x_n-c", [1]],
        [3, "x_n-d", [2]],
      ],
    );
    assert.equal(dagCounts(s).edges, 3);
    const summary = read(dagLines(s));
    assert.equal(summary.edgeCount, 3);
    assert.equal(summary.taskCount, 4);
  });

  test("a cycle throws naming its tasks, before any line", () => {
    const s = sub([t("a", [2]), t("b", [0]), t("c", [1]), t("d", [2])]);
    assert.throws(
      () => [...dagLines(s)],
      (e) =>
        e instanceof SpecError &&
        /upstream cycle: "x_n-a" → "x_n-b" → "x_n-c" → "x_n-a"/.test(e.message),
    );
    assert.throws(() => [...dagLines(sub([t("a", [0])]))], /"x_n-a" is its own upstream/);
    assert.throws(() => [...dagLines(sub([t("a", [5])]))], /upstream index 5 is out of range/);
  });
});

describe("DagReader", () => {
  test("reads the example; hashes equal those of the Submission", async () => {
    const s = await example();
    const summary = read(dagLines(s));
    assert.equal(summary.taskCount, 9);
    assert.equal(summary.edgeCount, 11);
    assert.deepEqual(
      summary.templates.map((x) => x.name),
      ["prep", "agg", "report"],
    );
    assert.deepEqual(
      { taskSetHash: summary.taskSetHash, dagHash: summary.dagHash },
      submissionHashes(s),
    );
  });

  test("hashes are stable (they are stored): the values in DAG_FORMAT.md", async () => {
    assert.deepEqual(submissionHashes(await example()), {
      taskSetHash: "6969fd179e97b551cf15d178e31023da039a6e3ffaa7be14aa6ede3f7d4601f6",
      dagHash: "ff8dea67f7089238e25b8b7b2bda55baea3648ee9685f7a35cb3f0aaca6d551d",
    });
  });

  test("the lines are those of DAG_FORMAT.md", async () => {
    const doc = await readFile(fileURLToPath(new URL("DAG_FORMAT.md", import.meta.url)), "utf8");
    const block = doc.split("## The example in full")[1]!.split("```")[1]!.trim();
    assert.deepEqual([...dagLines(await example())], block.split("\n"));
  });

  test("hashes do not depend on task order; an edge changes the DAG hash only", () => {
    const a = read(dagLines(sub([t("a"), t("b", [0]), t("c", [0])])));
    const b = read(dagLines(sub([t("c", [2]), t("b", [2]), t("a")])));
    const c = read(dagLines(sub([t("a"), t("b", [0]), t("c", [1])])));
    assert.equal(a.taskSetHash, b.taskSetHash);
    assert.equal(a.dagHash, b.dagHash);
    assert.equal(a.taskSetHash, c.taskSetHash);
    assert.notEqual(a.dagHash, c.dagHash);
  });

  test("taskHash(i) of read tasks", () => {
    const reader = new DagReader();
    read(dagLines(sub([t("a")])), reader);
    assert.match(reader.taskHash(0), /^[0-9a-f]{64}$/);
    assert.throws(() => reader.taskHash(1), RangeError);
  });

  test("rejects upstream >= i", () => {
    readerRejects(
      [template, line(0, "a", [0])],
      /task "x_n-a": upstream 0 is not before the task \(i = 0\)/,
    );
    readerRejects([template, line(0, "a"), line(1, "b", [2])], /upstream 2 is not before the task/);
  });

  test("rejects an unknown template, or a template after tasks", () => {
    readerRejects([line(0, "a")], /task "x_n-a": unknown template "x"/);
    readerRejects(
      [template, line(0, "a"), { ...template, name: "y" }],
      /template "y": templates must come before tasks/,
    );
  });

  test("rejects duplicates: identity, name, upstream entry, template", () => {
    readerRejects(
      [template, line(0, "a"), line(1, "a")],
      /task "x_n-a": same template and node_args as an earlier task/,
    );
    readerRejects(
      [template, line(0, "a"), { ...line(1, "b"), name: "x_n-a" }],
      /task "x_n-a": name is used by an earlier task/,
    );
    readerRejects(
      [template, line(0, "a"), line(1, "b"), line(2, "c", [1, 0, 1])],
      /upstream lists a task more than once/,
    );
    readerRejects([template, template], /template "x" is defined more than once/);
  });

  test("rejects bad args, a wrong i, and lines that do not fit the schema", () => {
    readerRejects([template, { ...line(0, "a"), args: {} }], /task "x_n-a": arg "n" is missing/);
    readerRejects([template, line(1, "a")], /task "x_n-a": i is 1, expected 0/);
    readerRejects([template, { kind: "edge" }], /^line 2: kind: /);
    readerRejects([{ ...template, command: "x {m}" }], /command placeholder \{m\}/);
  });

  test("checks the catalog when given the workflow and a catalog", () => {
    const s = sub([t("a")]);
    const workflow = s.workflow;
    assert.throws(
      () => new DagReader({ workflow, catalog: { clusters: { other: { queues: { q: {} } } } } }),
      /workflow: unknown cluster "local"/,
    );
    const catalog = { clusters: { local: { queues: { q: { max_cores: 2 } } } } };
    const reader = new DagReader({ workflow, catalog });
    reader.add(template);
    reader.add(line(0, "a"));
    assert.throws(
      () => reader.add({ ...line(1, "b"), resources: { cores: 4 } }),
      /task "x_n-b": resources fit no allowed queue of cluster "local" \(q: cores 4 > 2\)/,
    );
  });
});
