// The status names are a public contract (SPEC.md §3): scripts, other languages and the
// GUI show them. This is the one place they are written out to be checked.
import assert from "node:assert/strict";
import { test } from "node:test";
import { TASK_STATUSES, WORKFLOW_STATUSES } from "./statuses.ts";

test("task and workflow statuses are SPEC.md §3's, in its order", () => {
  assert.deepEqual(
    [...TASK_STATUSES],
    "REGISTERING QUEUED INSTANTIATING LAUNCHED RUNNING DONE ERROR_RECOVERABLE ADJUSTING_RESOURCES ERROR_FATAL".split(
      " ",
    ),
  );
  assert.deepEqual(
    [...WORKFLOW_STATUSES],
    "REGISTERING QUEUED RUNNING DONE FAILED HALTED ABORTED".split(" "),
  );
});
