// Hostile input, fuzzed: every field of the spec file and of the TypeScript API, and every
// subject a person may publish to (wf.submit.<me>, ti.<me>.<kind>, bridge.heartbeat.<c>.<me>
// through the consumers' dispatch seam; cmd.<me>.<verb> and query.<me>.<what> over NATS
// request/reply), with injection strings, NUL, long strings, invalid UTF-8, deep nesting
// and huge numbers. Oracle: each case is refused with an error naming the field, or
// dead-lettered with a reason, or accepted and then correct; nothing crashes, and a
// workflow running alongside finishes DONE. Every accepted spec's job script reads back
// to exactly the #SBATCH lines the bridge meant. Seeded: DROVER_FUZZ_SEED repeats a run.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { stringify as toYaml } from "yaml";
import { dispatch, type Outcome } from "../bus/dispatch.ts";
import type { LaunchBatch } from "../bus/schemas.ts";
import { followWorkflow } from "../client/follow.ts";
import { Tool } from "../client/tool.ts";
import { localUserToken } from "../core/identity.ts";
import { CAPS } from "../core/limits.ts";
import { silentLogger } from "../core/log.ts";
import { isStorableText } from "../core/text.ts";
import { functionContext } from "../functions/context.ts";
import { createFunctions } from "../functions/registry.ts";
import { batchTag, jobScript, partFiles, sbatchOptions } from "../slurm-bridge/sbatch.ts";
import { renderCommand } from "../submission/command.ts";
import { SpecError } from "../submission/errors.ts";
import { parseSpec } from "../submission/load.ts";
import { resolveCluster, resolveResources, templateMap } from "../submission/resolve.ts";
import type { Submission } from "../submission/submission.ts";
import {
  HOSTILE_NUMBERS,
  HOSTILE_STRINGS,
  hostilePayload,
  hostileValue,
  Rng,
  renameKey,
  setPath,
} from "./helpers/fuzz-values.ts";
import { collectOutput } from "./helpers/output.ts";
import { dagBody, echoDag } from "./helpers/raw-submit.ts";
import { startTestStack, type TestStack } from "./helpers/stack.ts";

const SEED = Number(process.env.DROVER_FUZZ_SEED ?? 20_261_205);
/** Cases per part; their sum is the run's count (at least 10,000). */
const COUNTS = { spec: 5000, api: 2500, jetstream: 1800, request: 800, submit: 40, cli: 24 };
const me = localUserToken();

let stack: TestStack;
let alongside: number;
const failures: string[] = [];
const tally = new Map<string, number>();

function count(part: string, outcome: string): void {
  const key = `${part}: ${outcome}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

function fail(part: string, what: string): void {
  count(part, "FAILED");
  // A few of each part: one kind of failure must not hide the others.
  if (failures.filter((f) => f.startsWith(`${part}:`)).length < 8) {
    failures.push(`${part}: ${what}`.slice(0, 600));
  }
}

/** A short, printable form of a value, for a failure's description. */
function show(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return JSON.stringify((text ?? String(value)).slice(0, 80));
}

before(async () => {
  console.log(`fuzz seed ${SEED} (repeat with DROVER_FUZZ_SEED=${SEED})`);
  stack = await startTestStack({ timing: { heartbeatSeconds: 2, sweepSeconds: 1 } });
  // Runs while the fuzz goes on: three waves of sleeping dummy tasks.
  const spec = {
    tool: { name: "alongside" },
    workflow: { name: "alongside", default_cluster: "dummy" },
    templates: [
      { name: "a", command: "run {i} @dummy:sleep=0.3", node_args: ["i"] },
      { name: "b", command: "merge {i} @dummy:sleep=0.3", node_args: ["i"] },
      { name: "c", command: "report" },
    ],
    tasks: [
      { template: "a", foreach: { i: [1, 2, 3, 4, 5, 6] }, args: {} },
      {
        template: "b",
        foreach: { i: [1, 2, 3, 4, 5, 6] },
        args: {},
        upstream: [{ template: "a", match: ["i"] }],
      },
      { template: "c", args: {}, upstream: [{ template: "b" }] },
    ],
  };
  alongside = (await stack.submit(parseSpec(JSON.stringify(spec), "json"))).workflow_id;
});

after(async () => {
  await stack?.stop();
});

// ---------------------------------------------------------------------------------------
// The spec file

const BASE_SPEC = {
  tool: { name: "fz", version: "1" },
  workflow: {
    name: "fuzz",
    args: { round: 1 },
    max_concurrently_running: 10,
    default_cluster: "dummy",
    default_resources: { cores: 1, memory: "1G", runtime: "10m", queue: "all.q" },
    default_max_attempts: 2,
    fail_fast: false,
    timeout_seconds: 3600,
    attributes: { team: "a" },
    working_dir: "/tmp",
    env: { FOO: "bar" },
  },
  templates: [
    {
      name: "prep",
      command: "echo {loc} {year:q} {out}",
      node_args: ["loc"],
      task_args: ["year"],
      op_args: ["out"],
      cluster: "dummy",
      resources: { memory: "1G", runtime: "1m", queue: "all.q", project: "proj_1" },
      resource_scales: { memory: 0.5, runtime: [60, 120] },
      fallback_queues: ["long.q"],
      max_concurrently_running: 5,
      max_attempts: 2,
      working_dir: "/tmp",
      env: { A: "b" },
    },
  ],
  tasks: [
    {
      template: "prep",
      name: "p1",
      args: { loc: "1", year: "2020", out: "/o" },
      max_attempts: 2,
      resources: { memory: "2G", project: "proj_2" },
      cluster: "dummy",
      attributes: { s: "1" },
      resource_scales: { memory: 0.5 },
      fallback_queues: ["long.q"],
      working_dir: "/tmp",
      env: { B: "c" },
    },
    {
      template: "prep",
      foreach: { loc: [2, 3] },
      args: { year: "2020", out: "/o" },
      upstream: ["p1"],
    },
  ],
};

type Path = (string | number)[];

/** Every field of the spec file, by its path in BASE_SPEC. */
function fieldPaths(value: unknown, path: Path = []): Path[] {
  if (value === null || typeof value !== "object") return [path];
  const entries = Array.isArray(value)
    ? value.map((v, i) => [i, v] as const)
    : Object.entries(value);
  return [path, ...entries.flatMap(([k, v]) => fieldPaths(v, [...path, k]))];
}
const SPEC_FIELDS = fieldPaths(BASE_SPEC).filter((p) => p.length > 0);
/** Maps whose keys are the user's (args, env, attributes, foreach). */
const KEYED = SPEC_FIELDS.filter((p) =>
  ["args", "env", "attributes", "foreach"].includes(String(p[p.length - 2])),
);

interface SpecCase {
  doc: unknown;
  /** the words a refusal must name (any one of them) */
  names: string[];
  label: string;
}

function specCase(rng: Rng): SpecCase {
  const op = rng.int(10);
  if (op === 0) {
    const path = rng.pick(KEYED);
    const key = rng.pick(HOSTILE_STRINGS);
    return {
      doc: renameKey(BASE_SPEC, path, key),
      names: [key.slice(0, 40), String(path[path.length - 2])],
      label: `key ${path.slice(0, -1).join(".")}.${show(key)}`,
    };
  }
  if (op === 1) {
    const path = rng.pick(SPEC_FIELDS);
    return {
      doc: setPath(BASE_SPEC, path, undefined),
      names: namesOf(path),
      label: `without ${path.join(".")}`,
    };
  }
  if (op === 2) {
    const value = hostileValue(rng);
    return { doc: value, names: [""], label: `document ${show(value)}` };
  }
  const path = rng.pick(SPEC_FIELDS);
  const value = hostileValue(rng);
  return {
    doc: setPath(BASE_SPEC, path, value),
    names: [...namesOf(path), ...quoted(value)],
    label: `${path.join(".")} = ${show(value)}`,
  };
}

/**
 * A refusal may name the field by quoting its bad value (`arg name "\t" is not valid`):
 * the value's first characters, for a short string or a list of them.
 */
function quoted(value: unknown): string[] {
  const texts = Array.isArray(value) ? value : [value];
  return texts
    .filter((t): t is string => typeof t === "string" && t.length > 0)
    .map((t) => JSON.stringify(t).slice(1, -1).slice(0, 29));
}

/** A refusal names the field: its key, or its parent's (e.g. `resources` for `resources.7`). */
function namesOf(path: Path): string[] {
  const words = path.filter((p): p is string => typeof p === "string");
  return [
    ...words.slice(-2),
    ...(path.includes("tasks") ? ["task"] : []),
    ...(path.includes("templates") ? ["template"] : []),
  ];
}

function specText(doc: unknown, rng: Rng): { text: string; format: "json" | "yaml" } {
  if (rng.chance(0.25)) {
    try {
      return { text: toYaml(doc), format: "yaml" };
    } catch {
      // A value YAML cannot write (deep nesting): JSON then.
    }
  }
  return { text: JSON.stringify(doc) ?? "null", format: "json" };
}

/** Every string of a value, keys included. */
function* strings(value: unknown): Generator<string> {
  if (typeof value === "string") yield value;
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      yield k;
      yield* strings(v);
    }
  }
}

/** What an accepted spec must be: storable, runnable, and its job scripts exactly as meant. */
function checkAccepted(sub: Submission): string | null {
  for (const s of strings(sub)) {
    if (!isStorableText(s)) {
      return `accepted text Postgres cannot store (NUL, lone surrogate): ${show(s)}`;
    }
  }
  const templates = templateMap(sub.templates);
  for (let i = 0; i < sub.tasks.length; i++) {
    const task = sub.tasks[i]!;
    const template = templates.get(task.template)!;
    const command = renderCommand(template.command, task.args);
    if (Buffer.byteLength(command) > CAPS.commandBytes) {
      return `accepted task ${task.name} whose command is ${Buffer.byteLength(command)} bytes`;
    }
    const problem = checkJobScript(sub, i, template.name);
    if (problem) return problem;
  }
  return null;
}

/** The job script of a task's batch, read back: exactly the #SBATCH lines meant, nothing more. */
function checkJobScript(sub: Submission, i: number, template: string): string | null {
  const r = resolveResources(sub, i);
  const batch: LaunchBatch = {
    v: 1,
    batch_id: 7,
    workflow_id: 3,
    cluster: clusterOf(sub, i),
    queue: r.queue ?? "all.q",
    template,
    resources: {
      cores: r.cores ?? 1,
      memory_bytes: r.memory_bytes ?? 1024 ** 3,
      runtime_seconds: r.runtime_seconds ?? 600,
      project: r.project ?? null,
    },
    heartbeat_seconds: 30,
    instances: [{ id: 1, task_id: 1, step: 0, attempt: 1, name: sub.tasks[i]!.name, command: "x" }],
  };
  const tag = batchTag("drvfuzz", batch, 0);
  let options: string[];
  try {
    options = sbatchOptions(batch, tag, partFiles("/tmp/jobs", 7, 0));
  } catch (err) {
    return `accepted, but the slurm-bridge refuses its batch: ${(err as Error).message}`;
  }
  const meant = [`--partition=${batch.queue}`, ...(r.project ? [`--account=${r.project}`] : [])];
  for (const m of meant) if (!options.includes(m)) return `sbatch options lack ${show(m)}`;
  const script = jobScript(options, "/usr/bin/node", "/opt/worker.mjs", "/tmp/jobs/m.json");
  const lines = script.split("\n");
  const readBack = lines.filter((l) => l.startsWith("#SBATCH ")).map((l) => l.slice(8));
  if (JSON.stringify(readBack) !== JSON.stringify(options)) {
    return `job script's #SBATCH lines ${show(readBack)} are not ${show(options)}`;
  }
  // Shebang, the options, two comment lines, exec, and the final newline: nothing else.
  if (lines.length !== options.length + 5 || script.includes("\r")) {
    return `job script has ${lines.length} lines for ${options.length} options: ${show(script)}`;
  }
  return null;
}

describe("fuzz", () => {
  test(`the spec file: ${COUNTS.spec} cases`, () => {
    const rng = new Rng(SEED);
    for (let n = 0; n < COUNTS.spec; n++) {
      const c = specCase(rng);
      const { text, format } = specText(c.doc, rng);
      let sub: Submission;
      try {
        sub = parseSpec(text, format, { baseDir: "/tmp" });
      } catch (err) {
        if (!(err instanceof SpecError)) {
          fail("spec", `${c.label}: ${(err as Error).name}: ${(err as Error).message}`);
          continue;
        }
        // A document that does not parse has no field to name: its syntax is the problem.
        const syntax = /^invalid (JSON|YAML)/.test(err.message);
        if (!syntax && !c.names.some((w) => err.message.includes(w))) {
          fail("spec", `${c.label}: refusal names none of ${show(c.names)}: ${err.message}`);
          continue;
        }
        count("spec", "refused naming the field");
        continue;
      }
      const problem = checkAccepted(sub);
      if (problem) fail("spec", `${c.label}: ${problem}`);
      else count("spec", "accepted, storable, job script exact");
    }
  });

  test(`the TypeScript API: ${COUNTS.api} cases`, () => {
    const rng = new Rng(SEED + 1);
    const fields = [
      "tool.name",
      "tool.version",
      "template.name",
      "template.command",
      "template.nodeArgs",
      "template.taskArgs",
      "template.opArgs",
      "template.cluster",
      "template.resources",
      "template.fallbackQueues",
      "task.args",
      "task.name",
      "task.cluster",
      "task.attributes",
      "task.resources",
      "task.maxAttempts",
      "workflow.name",
      "workflow.args",
      "workflow.defaultCluster",
      "workflow.attributes",
      "workflow.env",
      "workflow.workingDir",
    ] as const;
    for (let n = 0; n < COUNTS.api; n++) {
      const field = rng.pick(fields);
      const value = rng.chance(0.7) ? rng.pick(HOSTILE_STRINGS) : hostileValue(rng);
      const [level, key] = field.split(".") as [string, string];
      const wrap = (v: unknown) =>
        ["resources"].includes(key)
          ? { [rng.pick(["memory", "runtime", "queue", "project", "cores"])]: v }
          : ["args", "attributes", "env"].includes(key)
            ? rng.chance(0.5)
              ? { loc: v }
              : { [String(v)]: "1" }
            : v;
      const at = (l: string) => (level === l ? { [key]: wrap(value) } : {});
      try {
        const tool =
          level === "tool"
            ? new Tool(
                key === "name" ? (value as string) : "fz",
                key === "version" ? (value as string) : "1",
              )
            : new Tool("fz");
        const template = tool.template({
          name: "prep",
          command: "echo {loc}",
          nodeArgs: ["loc"],
          ...at("template"),
        } as never);
        const wf = tool.workflow({
          name: "fuzz",
          defaultCluster: "dummy",
          ...at("workflow"),
        } as never);
        wf.addTask(template.createTask({ args: { loc: "1" }, ...at("task") } as never));
        const sub = wf.toSubmission();
        const problem = checkAccepted(sub);
        if (problem) fail("api", `${field} = ${show(value)}: ${problem}`);
        else count("api", "accepted, storable, job script exact");
      } catch (err) {
        const e = err as Error;
        const named = [
          key,
          key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
          level,
          ...quoted(value),
        ];
        if (!(e instanceof SpecError) && e.name !== "ZodError") {
          fail("api", `${field} = ${show(value)}: ${e.name}: ${e.message}`);
        } else if (!named.some((w) => e.message.includes(w))) {
          fail(
            "api",
            `${field} = ${show(value)}: refusal names none of ${show(named)}: ${e.message}`,
          );
        } else count("api", "refused naming the field");
      }
    }
  });

  test(`subjects a person publishes to, through the consumers: ${COUNTS.jetstream} cases`, async () => {
    const rng = new Rng(SEED + 2);
    const functions = createFunctions({
      heartbeatSeconds: 2,
      missedHeartbeats: 3,
      sweepSeconds: 1,
    });
    const ctx = functionContext({ nc: stack.nc, sql: stack.sql, log: silentLogger });
    const farId = () => rng.pick([2 ** 40 + rng.int(1000), ...HOSTILE_NUMBERS]);
    const usage = () => ({
      runtime_used: rng.pick(HOSTILE_NUMBERS),
      memory_used: rng.pick(HOSTILE_NUMBERS),
    });
    const kinds = {
      launched: {
        def: functions.heartbeat,
        body: () => ({
          v: 1,
          cluster: "dummy",
          instances: [{ id: farId(), distributor_id: "1_0" }],
        }),
      },
      running: {
        def: functions.heartbeat,
        body: () => ({ v: 1, instances: [{ id: farId(), node: "n" }] }),
      },
      heartbeat: { def: functions.heartbeat, body: () => ({ v: 1, instance_ids: [farId()] }) },
      done: {
        def: functions.complete,
        body: () => ({ v: 1, results: [{ id: farId(), exit_code: 0, ...usage() }] }),
      },
      error: {
        def: functions.retry,
        body: () => ({ v: 1, results: [{ id: farId(), kind: "error", message: "m", ...usage() }] }),
      },
    } as const;
    const js = jetstream(stack.nc);
    let published = 0;
    const dlqBefore = (await (await jetstreamManager(stack.nc)).streams.info("DROVER_DLQ")).state
      .messages;
    const liveIds = async () =>
      (
        await stack.sql<{ id: number }[]>`
          select id from task_instance where workflow_id = ${alongside} order by id`
      ).map((r) => r.id);
    for (let n = 0; n < COUNTS.jetstream; n++) {
      const which = rng.int(10);
      let subject: string;
      let def: (typeof functions)[keyof typeof functions];
      let body: unknown;
      let mustRefuse = false;
      if (which < 7) {
        const kind = rng.pick(Object.keys(kinds) as (keyof typeof kinds)[]);
        subject = `ti.${me}.${kind}`;
        def = kinds[kind].def;
        const base = kinds[kind].body();
        body = mutate(base, rng);
      } else if (which < 8) {
        // Someone else's report on the alongside workflow's instances: refused, nothing changed.
        const ids = await liveIds();
        if (ids.length === 0) continue;
        subject = "ti.mallory.done";
        def = functions.complete;
        body = { v: 1, results: ids.slice(0, 3).map((id) => ({ id, exit_code: 0 })) };
        mustRefuse = true;
      } else if (which < 9) {
        subject = `bridge.heartbeat.${rng.pick(["dummy", "x-1", "local"])}.${me}`;
        def = functions.reap;
        body = mutate(
          { v: 1, cluster: "dummy", bridge_id: "b1", time: new Date().toISOString() },
          rng,
        );
      } else {
        subject = `wf.submit.${me}`;
        def = functions["bind-dag"];
        body = mutate(submitMessage("nonexistent-object"), rng);
      }
      const data = rng.chance(0.1) ? hostilePayload(rng) : encode(body);
      // Some go through the running functions too: their consume loops must survive them.
      if (n % 10 === 0) {
        await js.publish(subject, data);
        published++;
      }
      const outcome: Outcome = await dispatch(def as never, { subject, data, delivery: 1 }, ctx);
      judge("jetstream", subject, body, outcome, mustRefuse);
    }
    // The running functions dead-lettered what they were sent, each with its reason.
    const jsm = await jetstreamManager(stack.nc);
    let dead = 0;
    for (let i = 0; i < 100 && dead === 0; i++) {
      dead = (await jsm.streams.info("DROVER_DLQ")).state.messages - dlqBefore;
      if (dead === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      dead > 0,
      `none of ${published} messages sent to the running functions was dead-lettered`,
    );
    const last = await jsm.streams
      .getMessage("DROVER_DLQ", { last_by_subj: "dlq.>" })
      .catch(() => null);
    const letter = last?.json<{ reason?: string }>();
    assert.ok(letter?.reason, "a dead letter without its reason");
    console.log(
      `fuzz: ${published} hostile messages through the running functions, ${dead} dead-lettered`,
    );
  });

  test(`wf.submit with uploaded DAGs: ${COUNTS.submit} cases`, async () => {
    const rng = new Rng(SEED + 3);
    const ctx = functionContext({ nc: stack.nc, sql: stack.sql, log: silentLogger });
    const bindDag = createFunctions()["bind-dag"];
    const { Objm } = await import("@nats-io/obj");
    const store = await new Objm(stack.nc).create(`drover-dags-${me}`);
    for (let n = 0; n < COUNTS.submit; n++) {
      const lines = echoDag(2, () => rng.pick(HOSTILE_STRINGS)) as Record<string, unknown>[];
      let dagNote = `args ${show(lines.slice(1).map((l) => l["args"]))}`;
      if (rng.chance(0.5)) {
        const line = rng.pick(lines);
        const key = rng.pick(Object.keys(line));
        line[key] = hostileValue(rng);
        dagNote += `, ${line["kind"]} ${key} = ${show(line[key])}`;
      }
      const name = `fuzz-${SEED}-${n}`;
      const info = await store.putBlob({ name }, dagBody(lines));
      const message = submitMessage(name, info.digest);
      const body = rng.chance(0.5) ? mutate(message, rng, ["tool", "workflow"]) : message;
      mutation = `${body === message ? "message as is" : mutation}; DAG ${dagNote}`;
      const outcome = await dispatch(
        bindDag as never,
        { subject: `wf.submit.${me}`, data: encode(body), delivery: 1 },
        ctx,
      );
      judge("submit", `wf.submit.${me}`, body, outcome, false);
    }
    // Whatever was bound holds no NUL and no command past the cap.
    const [bad] = await stack.sql<{ n: number }[]>`
      select count(*)::int as n from task where octet_length(command) > ${CAPS.commandBytes}`;
    assert.equal(bad!.n, 0);
  });

  test(`cmd.<me>.<verb> and query.<me>.<what> over NATS: ${COUNTS.request} cases`, async () => {
    const rng = new Rng(SEED + 4);
    const verbs = [
      "stop",
      "resume",
      "concurrency",
      "set-status",
      "task-attributes",
      "reset",
      "release",
    ];
    const whats = ["workflow", "tasks", "task", "errors", "workflows", "dependencies", "resources"];
    for (let n = 0; n < COUNTS.request; n++) {
      const foreign = rng.chance(0.1);
      const isCommand = foreign || rng.chance(0.5);
      const word = isCommand
        ? rng.pick([...verbs, "rm", "\u0000"])
        : rng.pick([...whats, "secrets"]);
      const subject = `${isCommand ? "cmd" : "query"}.${foreign ? "mallory" : me}.${word.replace(/[\s.*>]/g, "_").replaceAll("\u0000", "_") || "x"}`;
      // Ids far from every real row, except someone else's commands on the workflow alongside.
      // Queries (they change nothing) may read it too, with hostile filters.
      const id =
        foreign || (!isCommand && rng.chance(0.4))
          ? alongside
          : rng.pick([2 ** 40, ...HOSTILE_NUMBERS]);
      const body = mutate(
        {
          workflow_id: id,
          task_id: id,
          limit: rng.pick(HOSTILE_NUMBERS),
          template: rng.pick(HOSTILE_STRINGS),
          status: rng.pick(["done", "registering", ...HOSTILE_STRINGS]),
          attributes: { [rng.pick(HOSTILE_STRINGS)]: rng.pick(HOSTILE_STRINGS) },
        },
        rng,
      );
      const data = rng.chance(0.1) ? hostilePayload(rng) : encode(body);
      let reply: unknown;
      try {
        reply = (await stack.nc.request(subject, data, { timeout: 10_000 })).json();
      } catch (err) {
        fail("request", `${subject} ${show(body)}: no answer: ${(err as Error).message}`);
        continue;
      }
      const answer = reply as { error?: unknown; ok?: unknown };
      if (reply === null || typeof reply !== "object") {
        fail("request", `${subject}: answer is not an object: ${show(reply)}`);
      } else if (
        answer.error !== undefined &&
        (typeof answer.error !== "string" || answer.error === "")
      ) {
        fail("request", `${subject}: error is not a message: ${show(reply)}`);
      } else if (foreign && answer.error === undefined) {
        fail(
          "request",
          `${subject}: someone else's command on workflow ${alongside} was not refused`,
        );
      } else count("request", answer.error === undefined ? "answered" : "refused with a reason");
    }
  });

  test(`drover submit as a subprocess: ${COUNTS.cli} cases`, async () => {
    const rng = new Rng(SEED + 5);
    const dir = mkdtempSync(join(tmpdir(), "drover-fuzz-"));
    const env = {
      ...process.env,
      DROVER_HOME: dir,
      DROVER_NATS_URL: stack.nats.url,
      DROVER_DATABASE_URL: stack.db.url,
      DROVER_LOG_LEVEL: "warn",
    };
    const cases: { file: string; label: string; names: string[] }[] = [];
    while (cases.length < COUNTS.cli) {
      const c = specCase(rng);
      const file = join(dir, `spec-${cases.length}.${rng.chance(0.5) ? "json" : "yaml"}`);
      const { text, format } = specText(c.doc, rng);
      if (!file.endsWith(format === "json" ? ".json" : ".yaml")) continue;
      // Only the dummy cluster may be submitted to: nothing of a fuzzed command ever runs.
      try {
        const sub = parseSpec(text, format, { baseDir: "/tmp" });
        if (sub.tasks.some((_, i) => clusterOf(sub, i) !== "dummy")) continue;
      } catch {}
      // Some files get bytes that are no UTF-8: read as U+FFFD, the field they land in is
      // the one a refusal names (a key "wor\ufffd\ufffd(kflow" is unknown).
      const corrupt = rng.chance(0.15);
      const bytes = corrupt
        ? Buffer.concat([
            Buffer.from(text.slice(0, 40)),
            Buffer.from([0xff, 0xc3, 0x28]),
            Buffer.from(text.slice(40)),
          ])
        : Buffer.from(text);
      writeFileSync(file, bytes);
      cases.push({
        file,
        label: `${c.label}${corrupt ? " (with bytes that are no UTF-8)" : ""}`,
        names: corrupt ? [...c.names, "\ufffd"] : c.names,
      });
    }
    const run = async (file: string) => {
      const { status, ...output } = await collectOutput(
        spawn(process.execPath, ["bin/drover.mjs", "submit", file, "--json"], { env }),
      );
      return { code: status, ...output };
    };
    // Two at a time: the machine has two cores.
    for (let i = 0; i < cases.length; i += 2) {
      const pair = cases.slice(i, i + 2);
      const results = await Promise.all(pair.map((c) => run(c.file)));
      results.forEach((r, k) => {
        const c = pair[k]!;
        let out: { error?: string; id?: number } = {};
        try {
          out = JSON.parse(r.stdout);
        } catch {
          fail(
            "cli",
            `${c.label}: stdout is not one JSON document: ${show(r.stdout)} ${show(r.stderr)}`,
          );
          return;
        }
        if (r.code === 0 && typeof out.id === "number") count("cli", "submitted");
        else if (r.code === 2 && typeof out.error === "string" && r.stderr.length > 0) {
          // Syntax, or the identity of an earlier case (same workflow args, another DAG).
          if (
            c.names.some((w) => out.error!.includes(w)) ||
            /UTF-8|invalid (JSON|YAML)|already exists with these workflow args/.test(out.error)
          ) {
            count("cli", "refused with exit 2 naming the field");
          } else fail("cli", `${c.label}: refusal names none of ${show(c.names)}: ${out.error}`);
        } else fail("cli", `${c.label}: exit ${r.code}: ${show(r.stdout)} ${show(r.stderr)}`);
      });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("the workflow alongside finished DONE, and nothing failed", async () => {
    const end = await followWorkflow(stack.nc, alongside, { timeoutMs: 60_000 });
    assert.equal(end.status, "DONE");
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    console.log(`fuzz: ${total} cases, seed ${SEED}`);
    for (const [k, v] of [...tally].sort()) console.log(`  ${k}: ${v}`);
    for (const f of failures) console.log(`  FAILED ${f}`);
    assert.deepEqual(failures, []);
    assert.ok(total >= 10_000, `only ${total} cases ran`);
  });
});

function clusterOf(sub: Submission, i: number): string {
  const task = sub.tasks[i]!;
  return resolveCluster(sub, templateMap(sub.templates).get(task.template), task);
}

function encode(body: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(body) ?? "null");
}

/** A submission message naming a DAG object in the submitter's bucket. */
function submitMessage(object: string, digest?: string): Record<string, unknown> {
  return {
    v: 1,
    submission_id: `fuzz-${object}`,
    object: { bucket: `drover-dags-${me}`, name: object, ...(digest ? { digest } : {}) },
    tool: { name: "fz", version: "1" },
    workflow: { name: "fuzz", default_cluster: "dummy" },
    counts: { templates: 1, tasks: 2, edges: 0 },
  };
}

/** What the last mutate() did, for a failure's description. */
let mutation = "";

/** One field of a message (at any depth, or one of `under`) set to a hostile value; or none. */
function mutate(message: unknown, rng: Rng, under?: string[]): unknown {
  mutation = "as is";
  if (rng.chance(0.1)) return message;
  if (rng.chance(0.1)) {
    const value = hostileValue(rng);
    mutation = `replaced by ${show(value)}`;
    return value;
  }
  const paths = fieldPaths(message).filter(
    (p) => p.length > 0 && (under === undefined || under.includes(String(p[0]))),
  );
  if (paths.length === 0) return message;
  const path = rng.pick(paths);
  if (rng.chance(0.15)) {
    mutation = `without ${path.join(".")}`;
    return setPath(message, path, undefined);
  }
  const value = hostileValue(rng);
  mutation = `${path.join(".")} = ${show(value)}`;
  return setPath(message, path, value);
}

/** Dead-lettered with a reason or acknowledged; never retried (a nak) for bad input. */
function judge(
  part: string,
  subject: string,
  body: unknown,
  outcome: Outcome,
  mustRefuse: boolean,
): void {
  if ("nak" in outcome) {
    fail(
      part,
      `${subject} ${show(body)}: retried, not refused: ${(outcome.error as Error)?.message}`,
    );
  } else if ("deadLetter" in outcome) {
    if (outcome.deadLetter.trim() === "") fail(part, `${subject}: dead-lettered without a reason`);
    else count(part, "dead-lettered with a reason");
  } else if (mustRefuse) fail(part, `${subject} ${show(body)}: someone else's report was accepted`);
  else count(part, "acknowledged");
}
