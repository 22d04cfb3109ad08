// The metrics are documented and the dashboard shows only metrics that exist: every
// drover_* metric the code registers has a row in deploy/README.md, and every metric a
// dashboard query names is registered.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
// Importing the modules registers their metrics (they are declared where they are measured).
import "../../bus/metrics.ts";
import "../../functions/launch/handler.ts";
import "../../functions/query/service.ts";
import "../../gui/server.ts";
import "../../slurm-bridge/commands.ts";
import { registry } from "../../core/metrics.ts";

const HERE = join(fileURLToPath(import.meta.url), "..");
const registered = new Set(
  registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((n) => n.startsWith("drover_")),
);

test("every registered metric is documented in deploy/README.md", () => {
  const readme = readFileSync(join(HERE, "..", "README.md"), "utf8");
  assert.ok(registered.size >= 20, `registered: ${[...registered]}`);
  for (const name of registered) {
    assert.ok(readme.includes(`| \`${name}\` |`), `${name} has no row in deploy/README.md`);
  }
});

test("the dashboard's queries name registered metrics, over a chosen data source", () => {
  const dashboard = JSON.parse(readFileSync(join(HERE, "drover.json"), "utf8")) as {
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  assert.ok(exprs.length > 10);
  const used = new Set<string>();
  for (const expr of exprs) {
    for (const [name] of expr.matchAll(/drover_[a-z_]+/g)) {
      used.add(name.replace(/_(bucket|sum|count)$/, ""));
    }
  }
  for (const name of used) assert.ok(registered.has(name), `the dashboard uses unknown ${name}`);
  // The three things the dashboard is for.
  for (const wanted of [
    "drover_tasks",
    "drover_consumer_pending_messages",
    "drover_slurm_commands_total",
  ]) {
    assert.ok(used.has(wanted), `the dashboard shows ${wanted}`);
  }
  const titles = dashboard.panels.filter((p) => p.type === "row").map((p) => p.title);
  assert.deepEqual(titles, ["Workflow flow", "Lag per function", "Slurm and bridges"]);
});
