import assert from "node:assert/strict";
import { test } from "node:test";
import { closest, didYouMean, editDistance, meant } from "./suggest.ts";

test("edit distance counts inserts, deletes, substitutions and swaps, any case", () => {
  assert.equal(editDistance("status", "status"), 0);
  assert.equal(editDistance("stauts", "status"), 1);
  assert.equal(editDistance("DONE", "done"), 0);
  assert.equal(editDistance("prep", "prepare"), 3);
});

test("the closest known name, only when it is close enough", () => {
  const commands = ["status", "stop", "submit", "tasks", "task", "errors"];
  assert.equal(closest("stauts", commands), "status");
  assert.equal(closest("erors", commands), "errors");
  assert.equal(closest("xyzzy", commands), undefined);
  assert.equal(closest("ERROR_FATL", ["DONE", "ERROR_FATAL"]), "ERROR_FATAL");
  assert.equal(didYouMean("stauts", commands), " (did you mean 'status'?)");
  assert.equal(didYouMean("xyzzy", ["a", "b"]), " (known: a, b)");
  assert.equal(meant("perp", ["prep", "agg"]), ' (did you mean "prep"?)');
  assert.equal(meant("nope", ["prep", "agg"]), "");
});
