import assert from "node:assert/strict";
import { test } from "node:test";
import type { WorkflowAnswer } from "../bus/queries.ts";
import { formatDuration, ProgressTracker, progressBar } from "./progress.ts";

const view = (done: number, running: number, failed = 0): WorkflowAnswer => ({
  id: 1,
  name: "w",
  status: "RUNNING",
  total: 100,
  counts: {
    REGISTERING: 100 - done - running - failed,
    QUEUED: 0,
    INSTANTIATING: 0,
    LAUNCHED: 0,
    RUNNING: running,
    DONE: done,
    ERROR_RECOVERABLE: 0,
    ADJUSTING_RESOURCES: 0,
    ERROR_FATAL: failed,
  },
  run: null,
  created_at: "",
  status_at: "",
  limits: { workflow: null, templates: {} },
});

test("the bar shows done, failed and running in proportion, with rate and ETA", () => {
  const line = progressBar(view(50, 10, 10), 5, 6, false);
  assert.match(line, /^\[#{15}x{3}~{3}\.{9}\] {2}60%/);
  assert.match(line, /50\/100 done {2}10 running {2}0 queued {2}10 failed {2}5\.0\/s {2}ETA 0:06/);
});

test("rate and ETA come from the progress seen over time", () => {
  const tracker = new ProgressTracker();
  tracker.update(view(0, 0), 0);
  const { rate, eta } = tracker.update(view(20, 0), 10_000);
  assert.equal(rate, 2);
  assert.equal(eta, 40);
  assert.equal(formatDuration(eta), "0:40");
  assert.equal(formatDuration(3725), "1:02:05");
});
