import assert from "node:assert/strict";
import { test } from "node:test";
import { appliedToPending } from "./throttle.ts";

const result = (code: number, stdout: string, stderr = "") => ({ code, stdout, stderr });

test("scontrol on an array some of whose elements ended: done for the pending ones", () => {
  assert.equal(appliedToPending(result(0, "")), true);
  // What `scontrol release 2484` printed here with elements 0-7 ended and 8-15 held.
  assert.equal(
    appliedToPending(result(1, "2484_0-7: Job has already finished\n2484_8-15: No error\n")),
    true,
  );
  assert.equal(
    appliedToPending(result(1, "", "scontrol: error: Invalid job id specified\n")),
    false,
  );
  assert.equal(appliedToPending(result(1, "", "")), false);
});
