// Crash safety: during a 5,000-task dummy workflow every function and the bridge are
// SIGKILLed at random moments, several times each, and restarted. The workflow must end
// DONE with exactly one DONE instance per task, and no task ever had two live
// instances at once. Then the same with two replicas of every function, and the same
// again while NATS is SIGKILLed and restarted and Postgres drops every connection and
// refuses new ones for a while. DROVER_CHAOS_TASKS sets the size (default 5,000).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { connectBus } from "../bus/connect.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import { connectMaintenance, quoteIdent } from "../store/connect.ts";
import type { Submission } from "../submission/submission.ts";
import { baseUrl, type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { startNats, type TestNats, waitForFunctions } from "./helpers/nats.ts";

const TASKS = Number(process.env.DROVER_CHAOS_TASKS ?? 5000);
const FUNCTIONS = ["bind-dag", "schedule", "launch", "heartbeat", "complete", "retry", "reap"];

function workflow(n: number): Submission {
  const groups = Math.max(1, Math.round(n / 100));
  const per = Math.floor(n / groups) - 1;
  const tasks: Submission["tasks"] = [];
  for (let g = 0; g < groups; g++) {
    const first = tasks.length;
    for (let i = 0; i < per; i++) {
      tasks.push({
        template: "work",
        name: `work_${g}_${i}`,
        args: { g: String(g), i: String(i) },
        upstream: [],
      });
    }
    tasks.push({
      template: "gather",
      name: `gather_${g}`,
      args: { g: String(g) },
      upstream: Array.from({ length: per }, (_, k) => first + k),
    });
  }
  return {
    tool: { name: "chaos", version: "1" },
    workflow: {
      name: `chaos ${n}`,
      default_cluster: "dummy",
      default_max_attempts: 10,
      fail_fast: false,
    },
    templates: [
      {
        name: "work",
        command: "@dummy:sleep=0.05 {g} {i}",
        node_args: ["g", "i"],
        task_args: [],
        op_args: [],
      },
      {
        name: "gather",
        command: "@dummy:sleep=0.05 {g}",
        node_args: ["g"],
        task_args: [],
        op_args: [],
      },
    ],
    tasks,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What goes wrong during a run; resolves with how many things it broke. */
type Disruption = (run: {
  nats: TestNats;
  db: FreshDatabase;
  kill(process: string): Promise<void>;
}) => Promise<number>;

/** Two SIGKILLs of each function and of the bridge, in random order, each restarted. */
const killEveryProcess: Disruption = async ({ kill }) => {
  const victims = [...FUNCTIONS.map((f) => `${f}#0`), "bridge"].flatMap((k) => [k, k]);
  victims.sort(() => Math.random() - 0.5);
  for (const key of victims) {
    await sleep(300 + Math.random() * 700);
    await kill(key);
  }
  return victims.length;
};

/** NATS SIGKILLed and back after a second; then every Postgres connection cut, and new
 * ones refused for two seconds. */
const outages: Disruption = async ({ nats, db }) => {
  const unfinished = async (when: string) => {
    const [r] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from task where status <> 'DONE'`;
    assert.ok(r!.n > 0, `the workflow was over ${when}`);
  };
  await sleep(500);
  await unfinished("before NATS went down");
  await nats.kill();
  await sleep(1000);
  await nats.restart();
  await sleep(1500);
  const name = new URL(db.url).pathname.slice(1);
  const admin = await connectMaintenance(baseUrl(), "drover-chaos-admin");
  try {
    await admin.unsafe(`alter database ${quoteIdent(name)} allow_connections false`);
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
    await sleep(2000);
    await admin.unsafe(`alter database ${quoteIdent(name)} allow_connections true`);
  } finally {
    await admin.end();
  }
  await unfinished("when Postgres came back");
  return 2;
};

async function chaosRun(replicas: number, disrupt: Disruption, afterBind = false) {
  const [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  const env = {
    ...process.env,
    DROVER_NATS_URL: nats.url,
    DROVER_DATABASE_URL: db.url,
    DROVER_LOG_LEVEL: "error",
    DROVER_HEARTBEAT_SECONDS: "2",
    DROVER_SWEEP_SECONDS: "1",
    DROVER_HOME: mkdtempSync(join(tmpdir(), "drover-chaos-")),
  };
  const commands: Record<string, string[]> = {
    bridge: ["local-bridge/main.ts", "--clusters", "dummy"],
    services: ["functions/main.ts", "query", "command"],
  };
  for (const fn of FUNCTIONS)
    for (let r = 0; r < replicas; r++) commands[`${fn}#${r}`] = ["functions/main.ts", fn];
  const live = new Map<string, ChildProcess>();
  const start = (key: string) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...commands[key]!], {
      env,
      stdio: "ignore",
    });
    live.set(key, child);
  };
  for (const key of Object.keys(commands)) start(key);
  const nc = await connectBus(nats.url, "chaos");
  try {
    await waitForFunctions(nats.url, FUNCTIONS, 60_000);
    const submitted = submitWorkflow(nc, workflow(TASKS), { timeoutMs: 180_000 });
    const kill = async (key: string) => {
      const child = live.get(key)!;
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      await sleep(100 + Math.random() * 300);
      start(key);
    };
    if (afterBind) await submitted;
    const broken = await disrupt({ nats, db, kill });
    const bound = await submitted;
    const end = await followWorkflow(nc, bound.workflow_id, { timeoutMs: 300_000 });
    assert.equal(end.status, "DONE");
    // Nothing was restarted but what the disruption killed: every process lived through it.
    for (const [key, child] of live) assert.equal(child.exitCode, null, `${key} exited`);
    assert.equal(end.counts.DONE, end.total);
    const [dup] = await db.sql<{ tasks: number; bad: number }[]>`
      select count(*)::int as tasks, count(*) filter (where n <> 1)::int as bad from (
        select t.id, count(i.id) filter (where i.status = 'DONE') as n
        from task t left join task_instance i on i.task_id = t.id
        where t.workflow_id = ${bound.workflow_id} group by t.id) s`;
    assert.equal(dup!.tasks, end.total);
    assert.equal(dup!.bad, 0, "every task has exactly one DONE instance");
    // No two live instances of a task overlapped: each instance was created after the
    // previous one of its task had left the live statuses.
    const [overlap] = await db.sql<{ n: number }[]>`
      with ends as (
        select i.id, i.task_id, i.created_at,
          (select min(a.at) from task_instance_status_audit a
           where a.task_instance_id = i.id
             and a.status not in ('QUEUED', 'INSTANTIATED', 'LAUNCHED', 'RUNNING')) as ended_at
        from task_instance i where i.workflow_id = ${bound.workflow_id}
      )
      select count(*)::int as n from ends a join ends b
        on a.task_id = b.task_id and a.id < b.id and b.created_at < coalesce(a.ended_at, 'infinity')`;
    assert.equal(overlap!.n, 0, "never two live instances of one task at once");
    const [retried] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from task_instance where workflow_id = ${bound.workflow_id} and status <> 'DONE'`;
    return { broken, extraInstances: retried!.n };
  } finally {
    for (const child of live.values()) child.kill("SIGKILL");
    await nc.close();
    await Promise.all([nats.stop(), db.drop()]);
  }
}

describe("chaos", { timeout: 900_000 }, () => {
  test(`SIGKILL every function and the bridge during a ${TASKS}-task workflow: DONE, exactly once`, async () => {
    const r = await chaosRun(1, killEveryProcess);
    console.log(`chaos (1 replica): ${r.broken} kills, ${r.extraInstances} instances retried`);
  });
  test("the same with two replicas of every function", async () => {
    const r = await chaosRun(2, killEveryProcess);
    console.log(`chaos (2 replicas): ${r.broken} kills, ${r.extraInstances} instances retried`);
  });
  test("NATS killed and restarted, Postgres connections cut and refused: DONE, exactly once", async () => {
    const r = await chaosRun(1, outages, true);
    console.log(`chaos (outages): ${r.broken} outages, ${r.extraInstances} instances retried`);
  });
});
