// Every benchmark in a small size, so that they keep working between the runs that
// measure: each prints its JSON and the workflow it measured really ran.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { MemoryCgroups } from "../worker/cgroup.ts";

async function bench(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "bench/main.ts", ...args],
    { encoding: "utf8", env: { ...process.env, DROVER_LOG_LEVEL: "error" } },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

test("bind, built with the client and as a spec file through drover submit", {
  timeout: 120_000,
}, async () => {
  for (const via of ["client", "spec"]) {
    const r = await bench("bind", "--tasks", "2500", "--via", via);
    // 50 prep tasks and 50 × 50 model tasks, each model depending on its prep.
    assert.equal(r.tasks, 2550, via);
    assert.equal(r.edges, 2500, via);
    const rss = r.peak_rss_mib as { client: number; bind_dag: number };
    assert.ok(rss.client > 0 && rss.bind_dag > 0, `${via}: both peak RSS measured`);
  }
});

test("python: the same workflow bound from the Python and the TypeScript client", {
  timeout: 120_000,
}, async () => {
  const r = await bench("python", "--tasks", "2500", "--repeat", "1");
  assert.equal(r.tasks, 2550);
  const py = r.python as { seconds: number; build: number; bind: number };
  const ts = r.typescript as { seconds: number };
  assert.ok(py.build > 0 && py.bind > 0 && ts.seconds > 0);
  assert.ok((r.ratio_python_to_typescript as number) > 0);
});

test("lifecycle and chain run their workflows to DONE", { timeout: 120_000 }, async () => {
  const lifecycle = await bench("lifecycle", "--tasks", "500");
  assert.equal(lifecycle.status, "DONE");
  // Real processes on `local`: with memory cgroups against sampling where cgroups exist.
  const groups = MemoryCgroups.detect();
  if (groups instanceof MemoryCgroups) groups.close();
  const memory = groups instanceof MemoryCgroups ? "compare" : "sampled";
  const local = await bench("lifecycle", "--tasks", "40", "--cluster", "local", "--memory", memory);
  if (memory === "compare") {
    for (const mode of ["cgroup", "sampled"]) {
      assert.equal((local[mode] as { status: string }).status, "DONE", mode);
    }
    const ratio = local.ratio_cgroup_to_sampled as { tasks_per_second: number };
    assert.ok(ratio.tasks_per_second > 0);
  } else {
    assert.equal(local.status, "DONE");
  }
  const chain = await bench("chain", "--length", "20");
  assert.equal(chain.status, "DONE");
  const latency = chain.edge_latency_ms as { p50: number };
  assert.ok(latency.p50 > 0, "edge latency measured over the chain's 19 edges");
});

test("gui answers every endpoint of a bound workflow", { timeout: 120_000 }, async () => {
  const r = await bench("gui", "--tasks", "2500", "--repeat", "1");
  assert.equal(r.tasks, 2550);
  const ms = r.median_ms as Record<string, number>;
  assert.equal(Object.keys(ms).length, 7);
  assert.ok(Object.values(ms).every((m) => m > 0));
});

test("a bad option is an error naming it", async () => {
  await assert.rejects(bench("bind", "--via", "carrier-pigeon"), /--via must be/);
  await assert.rejects(bench("nonsense"), /usage: npm run bench/);
  await assert.rejects(bench("lifecycle", "--cluster", "mars"), /--cluster must be one of/);
});
