import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SpecError } from "./errors.ts";
import { formatMemory, formatRuntime, parseMemory, parseRuntime } from "./units.ts";

const K = 1024;
const M = K ** 2;
const G = K ** 3;
const T = K ** 4;

describe("parseMemory", () => {
  const ok: [string | number, number][] = [
    ["512M", 512 * M],
    ["2G", 2 * G],
    ["1.5G", 1.5 * G],
    ["1T", T],
    ["100K", 100 * K],
    ["2g", 2 * G],
    ["2GB", 2 * G],
    ["2GiB", 2 * G],
    ["2gib", 2 * G],
    ["512mb", 512 * M],
    [" 4G ", 4 * G],
    ["4 G", 4 * G],
    [".5G", 0.5 * G],
    [2, 2 * G],
    [0.5, 0.5 * G],
    ["3", 3 * G],
    ["0.3K", Math.ceil(0.3 * K)],
  ];
  for (const [input, bytes] of ok) {
    test(`${JSON.stringify(input)} → ${bytes}`, () => assert.equal(parseMemory(input), bytes));
  }
  const bad: [string | number, RegExp][] = [
    ["12X", /memory "12X" is not a valid amount \(use e\.g\. 512M, 2G, 1\.5G\)/],
    ["", /not a valid amount/],
    ["G", /not a valid amount/],
    ["2Gi", /not a valid amount/],
    ["2 GBs", /not a valid amount/],
    ["1e400T", /too large/],
    ["0", /memory "0" must be more than zero/],
    ["0G", /must be more than zero/],
    ["-1G", /memory "-1G" must be more than zero/],
    [-2, /must be more than zero/],
    [0, /must be more than zero/],
    [Number.NaN, /not a valid amount/],
  ];
  for (const [input, message] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseMemory(input),
        (e) => e instanceof SpecError && message.test(e.message),
      );
    });
  }
});

describe("parseRuntime", () => {
  const ok: [string | number, number][] = [
    ["90s", 90],
    ["10m", 600],
    ["2h", 7200],
    ["1d", 86400],
    ["1.5h", 5400],
    ["10M", 600],
    ["01:30:00", 5400],
    ["100:00:00", 360000],
    ["1-02:03:04", 86400 + 7200 + 180 + 4],
    ["3600", 3600],
    [3600, 3600],
    [1.2, 2],
    ["0.1s", 1],
  ];
  for (const [input, seconds] of ok) {
    test(`${JSON.stringify(input)} → ${seconds}`, () => assert.equal(parseRuntime(input), seconds));
  }
  const bad: [string | number, RegExp][] = [
    ["10x", /runtime "10x" is not a valid amount \(use e\.g\. 90s, 10m, 2h, 1d, HH:MM:SS\)/],
    ["1:2", /not a valid amount/],
    ["00:61:00", /not a valid amount/],
    ["1-02:03", /not a valid amount/],
    ["00:00:00", /runtime "00:00:00" must be more than zero/],
    ["0s", /must be more than zero/],
    [-5, /runtime "-5" must be more than zero/],
    ["soon", /not a valid amount/],
  ];
  for (const [input, message] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseRuntime(input),
        (e) => e instanceof SpecError && message.test(e.message),
      );
    });
  }
});

describe("format", () => {
  test("memory", () => {
    assert.equal(formatMemory(1.5 * G), "1.5G");
    assert.equal(formatMemory(512 * M), "512M");
    assert.equal(formatMemory(2 * T), "2T");
    assert.equal(formatMemory(100), "100B");
    assert.equal(parseMemory(formatMemory(3 * G)), 3 * G);
  });
  test("runtime", () => {
    assert.equal(formatRuntime(5400), "1h30m");
    assert.equal(formatRuntime(90), "1m30s");
    assert.equal(formatRuntime(86400 + 7200), "1d2h");
    assert.equal(formatRuntime(0), "0s");
  });
});
