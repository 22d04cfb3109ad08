import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { diedBySignal } from "../worker/results.ts";
import {
  compactIndices,
  expandIndices,
  outcomeOf,
  parseElapsed,
  parseSacct,
  parseSize,
  phaseOf,
  type SacctElement,
  sacctArgs,
} from "./sacct.ts";

// Lines as sacct printed them on the test cluster (--format=JobID,State,ExitCode,MaxRSS,Elapsed,NodeList).
const SAMPLE = [
  "1_0|OUT_OF_MEMORY|0:125||00:00:01|vm",
  "1_0.batch|OUT_OF_MEMORY|0:125|1076K|00:00:01|vm",
  "2_2|FAILED|3:0||00:00:03|vm",
  "2_2.batch|FAILED|3:0|4656K|00:00:03|vm",
  "2_3|COMPLETED|0:0||00:00:03|vm",
  "2_3.batch|COMPLETED|0:0|4656K|00:00:03|vm",
  "2_3.extern|COMPLETED|0:0|10.50M|00:00:03|vm",
  "2_[8-20%5]|PENDING|0:0||00:00:00|None assigned",
  "3_0|TIMEOUT|0:0||00:01:16|vm",
  "3_0.batch|CANCELLED|0:15|3256K|00:01:17|vm",
  "27_1|CANCELLED by 0|0:0||00:00:07|vm",
  "27_1.batch|CANCELLED|0:15|3020K|00:00:08|vm",
  "27_[3-4,6,10-12]|CANCELLED by 0|0:0||00:00:00|None assigned",
  "30|COMPLETED|0:0||00:00:01|vm",
  "31_5|RUNNING|0:0||1-02:03:04|node[01]",
  "",
].join("\n");

describe("sacct parser", () => {
  const records = parseSacct(SAMPLE);

  test("array elements with their .batch MaxRSS (the largest step wins)", () => {
    assert.deepEqual(records.get("1")?.get(0), {
      jobId: "1",
      index: 0,
      state: "OUT_OF_MEMORY",
      exitCode: 0,
      signal: 125,
      elapsedSeconds: 1,
      node: "vm",
      maxRssBytes: 1076 * 1024,
    });
    assert.equal(records.get("2")?.get(2)?.exitCode, 3);
    assert.equal(records.get("2")?.get(2)?.maxRssBytes, 4656 * 1024);
    assert.equal(records.get("2")?.get(3)?.maxRssBytes, Math.round(10.5 * 1024 ** 2));
  });

  test("pending ranges are expanded, throttle and lists included", () => {
    const two = records.get("2")!;
    for (let i = 8; i <= 20; i++) assert.equal(two.get(i)?.state, "PENDING", `index ${i}`);
    assert.equal(two.get(8)?.node, undefined);
    assert.equal(two.has(7), false);
    const cancelled = [...records.get("27")!.keys()].sort((a, b) => a - b);
    assert.deepEqual(cancelled, [1, 3, 4, 6, 10, 11, 12]);
  });

  test("a state's first word is the state: `CANCELLED by 0`", () => {
    const el = records.get("27")!.get(1)!;
    assert.equal(el.state, "CANCELLED");
    assert.equal(el.stateDetail, "by 0");
  });

  test("TIMEOUT on the job line wins over CANCELLED on its .batch line", () => {
    const el = records.get("3")!.get(0)!;
    assert.equal(el.state, "TIMEOUT");
    assert.equal(el.elapsedSeconds, 76);
    assert.equal(el.maxRssBytes, 3256 * 1024);
  });

  test("plain jobs are not ours; days in Elapsed; odd node lists kept", () => {
    assert.equal(records.has("30"), false);
    assert.equal(records.get("31")?.get(5)?.elapsedSeconds, 93784);
    assert.equal(records.get("31")?.get(5)?.node, "node[01]");
  });

  test("units and times", () => {
    assert.equal(parseSize("1164K"), 1164 * 1024);
    assert.equal(parseSize("3.5M"), 3.5 * 1024 ** 2);
    assert.equal(parseSize("2G"), 2 * 1024 ** 3);
    assert.equal(parseSize("512"), 512);
    assert.equal(parseSize(""), undefined);
    assert.equal(parseElapsed("00:01:06"), 66);
    assert.equal(parseElapsed("05:07"), 307);
    assert.equal(parseElapsed("2-00:00:00"), 172800);
    assert.equal(parseElapsed("01:02.500"), 62.5);
    assert.equal(parseElapsed("INVALID"), undefined);
  });

  test("index lists both ways", () => {
    assert.deepEqual(expandIndices("3-6%2"), [3, 4, 5, 6]);
    assert.deepEqual(expandIndices("1,3,5-7"), [1, 3, 5, 6, 7]);
    assert.deepEqual(expandIndices("0-8:4"), [0, 4, 8]);
    assert.equal(compactIndices([5, 0, 1, 2, 7, 8, 8]), "0-2,5,7-8");
    assert.equal(compactIndices([4]), "4");
  });

  test("the poll's arguments: every job, parsable, bounded in time, .batch lines kept", () => {
    const args = sacctArgs(["12", "15"], new Date(2026, 0, 2, 3, 4, 5).getTime());
    assert.deepEqual(args, [
      "--parsable2",
      "--noheader",
      "--jobs=12,15",
      "--starttime=2026-01-02T03:04:05",
      "--format=JobID,State,ExitCode,MaxRSS,Elapsed,NodeList",
    ]);
    assert.equal(args.includes("-X"), false);
  });
});

describe("sacct states as results", () => {
  const el = (state: string, more: Partial<SacctElement> = {}): SacctElement => ({
    jobId: "9",
    index: 0,
    state,
    exitCode: 0,
    signal: 0,
    elapsedSeconds: 12,
    node: "vm",
    maxRssBytes: 5 * 1024 ** 2,
    ...more,
  });
  const ctx = {
    instanceId: 77,
    killOrdered: false,
    memoryBytes: 100 * 1024 ** 2,
    runtimeSeconds: 60,
  };
  const kind = (e: SacctElement, c = ctx) => {
    const r = outcomeOf(e, c);
    return r === null ? null : "done" in r ? "done" : r.error.kind;
  };

  test("live states give nothing", () => {
    for (const s of ["PENDING", "RUNNING", "REQUEUED", "SUSPENDED", "COMPLETING", "CONFIGURING"]) {
      assert.equal(outcomeOf(el(s), ctx), null, s);
    }
    assert.equal(phaseOf("RUNNING"), "running");
    assert.equal(phaseOf("PENDING"), "pending");
    assert.equal(phaseOf("SOMETHING_NEW"), "pending");
  });

  test("COMPLETED is done with MaxRSS, elapsed and node", () => {
    assert.deepEqual(outcomeOf(el("COMPLETED"), ctx), {
      done: { id: 77, exit_code: 0, runtime_used: 12, memory_used: 5 * 1024 ** 2, node: "vm" },
    });
  });

  test("resource errors, retries unchanged, cancellations", () => {
    assert.equal(kind(el("OUT_OF_MEMORY", { signal: 125 })), "memory");
    assert.equal(kind(el("TIMEOUT")), "runtime");
    for (const s of ["NODE_FAIL", "PREEMPTED", "BOOT_FAIL"]) assert.equal(kind(el(s)), "lost", s);
    assert.equal(kind(el("CANCELLED", { stateDetail: "by 0" })), "error");
    assert.equal(kind(el("CANCELLED"), { ...ctx, killOrdered: true }), "killed");
  });

  test("FAILED: the exit code and the stderr tail (Slurm's output when stderr is empty)", () => {
    const r = outcomeOf(el("FAILED", { exitCode: 3 }), { ...ctx, stderrTail: "boom\n" });
    assert.ok(r && "error" in r);
    assert.equal(r.error.kind, "error");
    assert.equal(r.error.exit_code, 3);
    assert.equal(r.error.message, "exited with code 3");
    assert.equal(r.error.stderr_tail, "boom\n");
    const w = outcomeOf(el("FAILED", { exitCode: 2 }), {
      ...ctx,
      stderrTail: "",
      slurmOutputTail: "drover-worker: cannot read the manifest",
    });
    assert.ok(w && "error" in w);
    assert.equal(w.error.stderr_tail, "drover-worker: cannot read the manifest");
    const s = outcomeOf(el("FAILED", { exitCode: 137 }), ctx);
    assert.ok(s && "error" in s);
    assert.match(s.error.message, /code 137 \(a death by signal 9\)/);
  });

  test("FAILED after the worker left a death by signal to us: its note is exact", () => {
    const note = (fields: object) =>
      `some output\n${JSON.stringify({ level: "info", msg: "death by signal: left to the bridge to report", ...fields })}\n`;
    const bySignal = outcomeOf(el("FAILED", { exitCode: 9 }), {
      ...ctx,
      slurmOutputTail: note({ exit_code: null, signal: "SIGKILL", signalled: false }),
    });
    assert.ok(bySignal && "error" in bySignal);
    assert.equal(bySignal.error.message, "killed by signal SIGKILL");
    assert.equal(bySignal.error.exit_code, null);
    const byCode = outcomeOf(el("FAILED", { exitCode: 9 }), {
      ...ctx,
      slurmOutputTail: note({ exit_code: 137, signal: null, signalled: false }),
    });
    assert.ok(byCode && "error" in byCode);
    assert.equal(byCode.error.message, "exited with code 137 (a death by signal 9)");
    assert.equal(byCode.error.exit_code, 137);
  });

  test("FAILED by signal after Slurm's over-memory kill (no cgroups) is a memory error", () => {
    const e = el("FAILED", { signal: 9 });
    assert.equal(kind(e), "error");
    assert.equal(
      kind(e, { ...ctx, slurmOutputTail: "slurmstepd: error: Exceeded job memory limit" } as never),
      "memory",
    );
  });

  test("an OOM message names the request", () => {
    const r = outcomeOf(el("OUT_OF_MEMORY", { signal: 125 }), ctx);
    assert.ok(r && "error" in r);
    assert.match(r.error.message, /OUT_OF_MEMORY.*100 MiB/);
    assert.equal(r.error.exit_code, null);
    assert.equal(r.error.memory_used, 5 * 1024 ** 2);
  });
});

describe("what the worker leaves to the bridge (manifest signal_deaths: bridge)", () => {
  const outcome = (exitCode: number | null, signal: NodeJS.Signals | null) => ({
    exitCode,
    signal,
    startedAt: 0,
    runtimeSeconds: 1,
    stderrTail: "",
  });

  test("deaths by signal, shell-reported ones (> 128) and anything after Slurm signalled it", () => {
    assert.equal(diedBySignal(outcome(null, "SIGKILL"), false), true);
    assert.equal(diedBySignal(outcome(137, null), false), true);
    assert.equal(diedBySignal(outcome(0, null), true), true);
    assert.equal(diedBySignal(outcome(1, null), true), true);
  });

  test("its own exits: the worker reports them at once", () => {
    assert.equal(diedBySignal(outcome(0, null), false), false);
    assert.equal(diedBySignal(outcome(3, null), false), false);
    assert.equal(diedBySignal(outcome(128, null), false), false);
  });
});
