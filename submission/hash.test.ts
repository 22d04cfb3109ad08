import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  HashAccumulator,
  nodeHash,
  sha256,
  taskHash,
  templateVersionHash,
  workflowIdentityHash,
} from "./hash.ts";

const HEX = /^[0-9a-f]{64}$/;

describe("identity hashes", () => {
  test("task hash: node args, then task args; op args are not part of it", () => {
    const args = { location: "1", year: "2020", out: "/a" };
    const h = taskHash("prep", ["location"], ["year"], args);
    assert.match(h, HEX);
    assert.equal(h, taskHash("prep", ["location"], ["year"], { ...args, out: "/b" }));
    assert.notEqual(h, taskHash("prep", ["location"], ["year"], { ...args, year: "2021" }));
    assert.notEqual(h, taskHash("prep", ["location", "year"], [], args));
    assert.notEqual(h, taskHash("prep2", ["location"], ["year"], args));
    assert.equal(h, sha256(JSON.stringify(["prep", ["location", "1"], ["year", "2020"]])));
    assert.equal(
      nodeHash("prep", ["location"], args),
      sha256(JSON.stringify(["prep", ["location", "1"]])),
    );
  });

  test("values cannot run into each other", () => {
    assert.notEqual(
      taskHash("p", ["a", "b"], [], { a: "x,", b: "y" }),
      taskHash("p", ["a", "b"], [], { a: "x", b: ",y" }),
    );
  });

  test("template version: command and the three arg lists", () => {
    const t = { command: "p {a}", node_args: ["a"], task_args: [], op_args: [] };
    assert.match(templateVersionHash(t), HEX);
    assert.notEqual(templateVersionHash(t), templateVersionHash({ ...t, command: "q {a}" }));
    assert.notEqual(
      templateVersionHash(t),
      templateVersionHash({ ...t, node_args: [], op_args: ["a"] }),
    );
  });

  test("workflow identity: key order does not matter, values compare as strings", () => {
    const a = workflowIdentityHash("burden", "1", { round: 7, phase: "x" });
    assert.equal(a, workflowIdentityHash("burden", "1", { phase: "x", round: "7" }));
    assert.notEqual(a, workflowIdentityHash("burden", "2", { round: 7, phase: "x" }));
    assert.notEqual(a, workflowIdentityHash("burden", "1", { round: 8, phase: "x" }));
  });
});

describe("HashAccumulator", () => {
  const digests = Array.from({ length: 50 }, (_, i) => sha256(String(i)));

  test("independent of order", () => {
    const a = new HashAccumulator();
    const b = new HashAccumulator();
    for (const d of digests) a.addDigest(d);
    for (const d of [...digests].reverse()) b.addDigest(d);
    assert.equal(a.digest(), b.digest());
  });

  test("counts duplicates (an item twice is not the item once, nor nothing)", () => {
    const once = new HashAccumulator();
    const twice = new HashAccumulator();
    const none = new HashAccumulator();
    once.add("x");
    twice.add("x");
    twice.add("x");
    assert.notEqual(once.digest(), twice.digest());
    assert.notEqual(twice.digest(), none.digest());
    const pairA = new HashAccumulator();
    const pairB = new HashAccumulator();
    pairA.add("x");
    pairA.add("x");
    pairB.add("y");
    pairB.add("y");
    assert.notEqual(pairA.digest(), pairB.digest());
  });

  test("carries across lanes: the 128-bit prefix sum wraps modulo 2^128", () => {
    const ones = `${"f".repeat(32)}${"0".repeat(32)}`;
    const one = `${"0".repeat(31)}1${"0".repeat(32)}`;
    const a = new HashAccumulator();
    a.addDigest(ones);
    a.addDigest(one);
    // Same count and a sum of 0 either way.
    const b = new HashAccumulator();
    b.addDigest("0".repeat(64));
    b.addDigest("0".repeat(64));
    assert.equal(a.digest(), b.digest());
  });

  test("rejects what is not a hex digest", () => {
    assert.throws(() => new HashAccumulator().addDigest("xyz"), /not a sha256 hex digest/);
    assert.throws(() => new HashAccumulator().addDigest("g".repeat(64)), /not a sha256 hex digest/);
  });

  test("digest can be taken twice", () => {
    const a = new HashAccumulator();
    a.add("x");
    assert.equal(a.digest(), a.digest());
  });
});
