// Coming back to a workflow and triaging its failures from the CLI, as a subprocess
// against a stack that `drover up` starts: `wait` and `status --watch` re-attach with
// submit --wait's output and exit codes, `errors` groups failures (filters, --all, JSON
// groups), a blocked task names the failed upstream, a stop's kills are counted as a
// stop, and unknown names get a "did you mean".
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliStack, cliStackUp, json } from "./helpers/cli.ts";

let stack: CliStack;
let wf = 0;
const cli = (args: string[]) => stack.drover(args);

/** prep 1 succeeds; prep 2 always fails one way, prep 3 another; agg after each prep. */
const failingSpec = `tool: { name: triage_test }
workflow: { name: triage, args: { round: 1 }, default_cluster: local, default_max_attempts: 2 }
templates:
  - name: prep
    command: "if [ {loc} = 2 ]; then echo no input for location {loc} >&2; exit 5; fi; if [ {loc} = 3 ]; then echo 'ValueError: bad year' >&2; exit 4; fi; echo ok"
    node_args: [loc]
  - { name: agg, command: "echo agg {loc}", node_args: [loc] }
tasks:
  - { template: prep, foreach: { loc: [1, 2, 3] } }
  - { template: agg, foreach: { loc: [1, 2, 3] }, upstream: [{ template: prep, match: [loc] }] }
`;

interface Errors {
  errors: { task: number; task_name: string; time: string; message: string }[];
  total: number;
  groups: {
    template: string;
    count: number;
    tasks: number;
    last_at: string;
    example: { task_name: string; message: string };
  }[];
  group_count: number;
  stopped: { attempts: number; tasks: number };
}

describe("re-attaching and triage from the CLI", { timeout: 300_000 }, () => {
  before(() => {
    stack = cliStackUp("drover-triage-");
    const spec = join(stack.home, "failing.yaml");
    writeFileSync(spec, failingSpec);
    const r = cli(["submit", spec, "--wait"]);
    assert.equal(r.code, 1, r.stderr);
    const m = /workflow (\d+) "triage": FAILED/.exec(r.stdout);
    assert.ok(m, r.stdout);
    wf = Number(m[1]);
    // After a FAILED wait: what to do next.
    assert.match(r.stdout, new RegExp(`next: 'drover errors ${wf}'.*'drover resume ${wf}'`));
  });
  after(() => stack?.down());

  test("wait and status --watch: the same final output and exit code as submit --wait", () => {
    const waited = cli(["wait", String(wf)]);
    assert.equal(waited.code, 1, waited.stderr);
    assert.match(waited.stdout, /FAILED {2}\(6 tasks\)/);
    assert.match(waited.stdout, /^next: 'drover errors/m);
    const status = json(cli(["status", String(wf), "--json"]));
    for (const args of [
      ["wait", String(wf), "--json"],
      ["status", String(wf), "--watch", "--json"],
    ]) {
      const r = cli(args);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.deepEqual(json(r), status);
    }
    const unknown = cli(["wait", "999999"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /workflow 999999 does not exist/);
  });

  test("errors: one group per way of failing, with counts and one example each", () => {
    const r = cli(["errors", String(wf)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /4 failed attempts in 2 groups, the latest first/);
    const blocks = r.stdout.split(/\n(?=\d+ attempts? of )/).slice(1);
    assert.equal(blocks.length, 2, r.stdout);
    for (const block of blocks) {
      assert.match(block, /^2 attempts of 1 task \(template prep, error error\), last at /);
      assert.equal((block.match(/e\.g\. task /g) ?? []).length, 1, "one example");
    }
    assert.ok(blocks.some((b) => /no input for location 2/.test(b)));
    assert.ok(blocks.some((b) => /ValueError: bad year/.test(b)));
    assert.doesNotMatch(r.stdout, /killed by a stop/);

    const limited = cli(["errors", String(wf), "--limit", "1"]);
    assert.match(limited.stdout, /… 1 more group \(--limit N shows more\)/);
  });

  test("errors --json keeps errors[] (newest first) and adds groups[]", () => {
    const r = cli(["errors", String(wf), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = json(r) as unknown as Errors;
    assert.equal(out.errors.length, 4);
    for (const e of out.errors) {
      assert.deepEqual(Object.keys(e), [
        "task",
        "task_name",
        "instance",
        "exit_code",
        "message",
        "time",
      ]);
    }
    const times = out.errors.map((e) => Date.parse(e.time));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      "newest first",
    );
    assert.equal(out.total, 4);
    assert.equal(out.group_count, 2);
    assert.deepEqual(
      out.groups.map((g) => [g.template, g.count, g.tasks]),
      [
        ["prep", 2, 1],
        ["prep", 2, 1],
      ],
    );
    assert.ok(Date.parse(out.groups[0]!.last_at) >= Date.parse(out.groups[1]!.last_at));
    assert.deepEqual(out.stopped, { attempts: 0, tasks: 0 });
  });

  test("errors --template, --task and --all; an unknown template gets a did-you-mean", () => {
    const none = cli(["errors", String(wf), "--template", "agg"]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /has no failed attempts/);

    const typo = cli(["errors", String(wf), "--template", "perp"]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /has no template 'perp' \(did you mean 'prep'\?\)/);

    const all = json(cli(["errors", String(wf), "--json"])) as unknown as Errors;
    const prep2 = all.errors.find((e) => e.task_name === "prep_loc-2")!;
    const one = cli(["errors", String(wf), "--task", String(prep2.task), "--all"]);
    assert.equal(one.code, 0, one.stderr);
    const lines = one.stdout.split("\n").filter((l) => /^\S+Z {2}task /.test(l));
    assert.equal(lines.length, 2, one.stdout);
    assert.ok(lines.every((l) => l.includes('"prep_loc-2"')));
    assert.doesNotMatch(one.stdout, /bad year/);
  });

  test("a task held back by a failed upstream says which one", () => {
    const tasks = json(cli(["tasks", String(wf), "--json"])).tasks as {
      id: number;
      name: string;
      status: string;
    }[];
    const agg2 = tasks.find((t) => t.name === "agg_loc-2")!;
    const prep2 = tasks.find((t) => t.name === "prep_loc-2")!;
    assert.equal(agg2.status, "REGISTERING");
    const text = cli(["task", String(agg2.id)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `blocked by failed upstream task: task ${prep2.id} "prep_loc-2" \\(prep, ERROR_FATAL\\)`,
      ),
    );
    const detail = json(cli(["task", String(agg2.id), "--json"]));
    assert.deepEqual(detail.blocked_by, {
      failed: [{ id: prep2.id, name: "prep_loc-2", template: "prep", status: "ERROR_FATAL" }],
      failed_total: 1,
      pending_upstream: 1,
    });
    // A task that is not blocked has no blocked_by (the documented keys only).
    const agg1 = tasks.find((t) => t.name === "agg_loc-1")!;
    assert.equal("blocked_by" in json(cli(["task", String(agg1.id), "--json"])), false);
  });

  test("a stop's kills are counted as a stop, not listed as failures", async () => {
    const spec = join(stack.home, "sleepers.yaml");
    writeFileSync(
      spec,
      `tool: { name: triage_test }
workflow: { name: sleepers, default_cluster: sequential }
templates:
  - { name: nap, command: "sleep 60", node_args: [i] }
tasks:
  - { template: nap, foreach: { i: [1, 2, 3] } }
`,
    );
    const submitted = json(cli(["submit", spec, "--json"]));
    const id = Number(submitted.id);
    // One slot: one task runs, the others wait their turn.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const counts = json(cli(["status", String(id), "--json"])).counts as Record<string, number>;
      if (counts.RUNNING === 1) break;
      assert.ok(Date.now() < deadline, "a task runs");
      await new Promise((r) => setTimeout(r, 300));
    }
    const stop = cli(["stop", String(id), "--json"]);
    assert.equal(stop.code, 0, stop.stderr);
    const answer = json(stop);
    assert.equal(answer.running, 1);
    assert.ok(Number(answer.killed) >= 1);

    const errors = cli(["errors", String(id)]);
    assert.equal(errors.code, 0, errors.stderr);
    assert.match(errors.stdout, /has no failed attempts/);
    const killed = Number(answer.killed);
    assert.match(
      errors.stdout,
      new RegExp(
        `${killed} attempts? of ${killed} tasks? were killed by a stop, a cold resume or a timeout \\(not failures\\); 'drover resume ${id}'`,
      ),
    );
    const out = json(cli(["errors", String(id), "--json"])) as unknown as Errors;
    assert.deepEqual(out.errors, []);
    assert.deepEqual(out.stopped, { attempts: killed, tasks: killed });
  });

  test("unknown names get a did-you-mean", () => {
    const command = cli(["stauts", String(wf)]);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command 'stauts' \(did you mean 'status'\?\)/);
    const status = cli(["tasks", String(wf), "--status", "DOEN"]);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /unknown task status 'DOEN' \(did you mean "DONE"\?\)/);
    const limit = cli(["concurrency", String(wf), "3", "--template", "aggg"]);
    assert.equal(limit.code, 2);
    assert.match(limit.stderr, /no template "aggg" \(did you mean "agg"\?\)/);
    const spec = join(stack.home, "typo.yaml");
    writeFileSync(spec, failingSpec.replace("{ template: agg,", "{ template: agr,"));
    const submit = cli(["submit", spec]);
    assert.equal(submit.code, 2);
    assert.match(submit.stderr, /unknown template "agr" \(did you mean "agg"\?\)/);
  });
});
