// The slurm-bridge daemon (slurm-bridge/main.ts, its own process) SIGKILLed in the middle
// of a workflow on the real Slurm and started again: the workflow finishes and no launch
// batch, hence no task instance, was submitted twice.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { connectBus } from "../bus/connect.ts";
import type { Submission } from "../submission/submission.ts";
import { sacctByPrefix, slurmSkip, slurmWorkflow, template, until } from "../test/helpers/slurm.ts";
import { startTestStack, type TestStack } from "../test/helpers/stack.ts";
import { deriveTagPrefix } from "./bridge.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

describe("slurm-bridge killed mid-workflow", { skip: slurmSkip, timeout: 600_000 }, () => {
  let stack: TestStack;
  let dir: string;
  let child: ChildProcess | undefined;
  let starts = 0;

  function startBridge(): ChildProcess {
    starts++;
    const out = openSync(join(dir, `bridge-${starts}.log`), "a");
    const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "slurm-bridge/main.ts")], {
      env: {
        ...process.env,
        DROVER_NATS_URL: stack.nats.url,
        DROVER_HOME: join(dir, "home"),
        DROVER_LOG_DIR: join(dir, "logs"),
        DROVER_LOG_LEVEL: "info",
        DROVER_SLURM_POLL_SECONDS: "1",
        DROVER_SLURM_MAX_POLL_SECONDS: "5",
      },
      stdio: ["ignore", out, out],
      cwd: ROOT,
    });
    return proc;
  }

  before(async () => {
    stack = await startTestStack();
    dir = mkdtempSync(join(tmpdir(), "drover-slurm-restart-"));
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("SIGKILL and restart: the workflow finishes, nothing submitted twice", async () => {
    const t0 = Date.now();
    child = startBridge();
    await until(
      async () =>
        (
          await stack.sql`select 1 from queue q join cluster c on c.id = q.cluster_id
            where c.name = 'slurm' and q.name = 'debug'`
        ).length > 0,
      60_000,
      "the bridge registered its partitions",
    );
    const n = 40;
    const tasks: Submission["tasks"] = [];
    for (let i = 0; i < n; i++) {
      tasks.push({ template: "a", name: `a_i-${i}`, args: { i: String(i) }, upstream: [] });
    }
    for (let i = 0; i < n; i++) {
      tasks.push({ template: "b", name: `b_i-${i}`, args: { i: String(i) }, upstream: [i] });
    }
    tasks.push({
      template: "gather",
      name: "gather",
      args: {},
      upstream: tasks.map((_, k) => k).slice(n),
    });
    const sub = slurmWorkflow(
      "bridge restart",
      [
        template("a", "sleep 1; echo a {i}", { node_args: ["i"] }),
        template("b", "sleep 2; echo b {i}", { node_args: ["i"] }),
        template("gather", "echo gathered"),
      ],
      tasks,
    );
    const bound = await stack.submit(sub);
    const wf = bound.workflow_id;
    const count = async (status: string) => {
      const [r] = await stack.sql<{ n: number }[]>`
        select count(*)::int as n from task where workflow_id = ${wf} and status = ${status}`;
      return r!.n;
    };
    await until(async () => (await count("DONE")) >= 15, 180_000, "15 tasks done");
    const exited = new Promise((r) => child!.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    const doneAtKill = await count("DONE");
    // Jobs go on under Slurm; their workers report; new batches wait in the stream.
    await new Promise((r) => setTimeout(r, 3000));
    child = startBridge();
    await until(
      async () => {
        const [w] = await stack.sql<{ status: string }[]>`
          select status from workflow where id = ${wf}`;
        return w!.status === "DONE" || w!.status === "FAILED" ? w!.status : undefined;
      },
      300_000,
      "the workflow's end",
    ).then((status) => assert.equal(status, "DONE"));

    const [inst] = await stack.sql<{ n: number; done: number; tasks: number }[]>`
      select count(*)::int as n, count(*) filter (where status = 'DONE')::int as done,
        (select count(*)::int from task where workflow_id = ${wf} and attempts = 1) as tasks
      from task_instance where workflow_id = ${wf}`;
    assert.deepEqual(inst, { n: 2 * n + 1, done: 2 * n + 1, tasks: 2 * n + 1 });

    // Slurm's view: one job per tag (batch part), and every launch batch submitted once.
    const nc = await connectBus(stack.nats.url, "restart-test");
    const prefix = await deriveTagPrefix(nc, stack.nats.url);
    await nc.drain();
    const [batches] = await stack.sql<{ n: number }[]>`
      select count(distinct batch_id)::int as n from task_instance where workflow_id = ${wf}`;
    const byTag = new Map<string, Set<string>>();
    // The last jobs reach sacct a moment after their workers reported.
    await until(
      () => {
        byTag.clear();
        for (const [jobId, name] of sacctByPrefix(prefix)) {
          const job = jobId!.split("_")[0]!;
          byTag.set(name!, new Set([...(byTag.get(name!) ?? []), job]));
        }
        return byTag.size >= batches!.n;
      },
      30_000,
      "every batch in sacct",
    );
    const twice = [...byTag].filter(([, ids]) => ids.size > 1);
    assert.deepEqual(twice, [], "no tag was submitted twice");
    assert.equal(byTag.size, batches!.n, "every launch batch is one Slurm job");
    // Every instance is in exactly one manifest.
    const jobsDir = join(dir, "home", "slurm-bridge", prefix, "jobs");
    const seen = new Map<number, number>();
    for (const b of readdirSync(jobsDir)) {
      for (const f of readdirSync(join(jobsDir, b)).filter((x) => x.endsWith(".json"))) {
        const m = JSON.parse(readFileSync(join(jobsDir, b, f), "utf8"));
        for (const i of m.instances) seen.set(i.id, (seen.get(i.id) ?? 0) + 1);
      }
    }
    assert.equal(seen.size, 2 * n + 1);
    assert.ok([...seen.values()].every((c) => c === 1));
    const second = readFileSync(join(dir, "bridge-2.log"), "utf8");
    assert.match(second, /jobs re-adopted/);
    console.log(
      `bridge SIGKILLed with ${doneAtKill} of ${2 * n + 1} tasks done; workflow DONE after ${((Date.now() - t0) / 1000).toFixed(1)} s; ${batches!.n} launch batches = ${byTag.size} Slurm jobs; re-adoption: ${/"from_state":(\d+),"from_sacct":(\d+)/.exec(second)?.slice(1).join(" from state, ") ?? "?"} from sacct`,
    );
  });
});
