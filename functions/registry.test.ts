import assert from "node:assert/strict";
import { test } from "node:test";
import { consumingFunctions } from "../bus/contracts.ts";
import { createFunctions } from "./registry.ts";

test("every function the contracts name is in the registry under its name, and nothing else", () => {
  const registry = createFunctions();
  assert.deepEqual(Object.keys(registry), consumingFunctions());
  for (const [name, fn] of Object.entries(registry)) {
    assert.equal(fn.name, name);
    assert.ok(fn.contracts.length > 0 && fn.contracts.every((c) => c.consumer === name), name);
  }
});
