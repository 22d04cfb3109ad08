// Postgres restarted mid-run: a private server (initdb into a temp directory) under every
// function and the dummy bridge as separate processes. During a workflow of
// DROVER_PG_RESTART_TASKS tasks (default 5,000) the server is stopped (fast: every
// session cut), started again 10 s later, and the workflow must end DONE with exactly one
// DONE instance per task, no Drover process restarted, and the client that follows it
// still following. Three times.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connectBus } from "../bus/connect.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import { createSql } from "../store/connect.ts";
import { FUNCTION_NAMES, startDroverProcesses } from "./helpers/drover-processes.ts";
import { gatherTaskCount, gatherWorkflow } from "./helpers/gather-workflow.ts";
import { startNats, waitForFunctions } from "./helpers/nats.ts";
import { startPrivatePostgres } from "./helpers/private-postgres.ts";
import { assertExactlyOnce, doneCount, waitFor } from "./helpers/run-checks.ts";

const N = Number(process.env.DROVER_PG_RESTART_TASKS ?? 5000);
const ROUNDS = 3;
const OUTAGE_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function restartRun(round: number): Promise<string> {
  const started = Date.now();
  const [pg, nats] = await Promise.all([startPrivatePostgres(), startNats()]);
  const procs = await startDroverProcesses({ natsUrl: nats.url, databaseUrl: pg.url });
  const nc = await connectBus(nats.url, "pg-restart-test");
  const sql = createSql(pg.url, { max: 2, application: "drover-test" });
  try {
    await waitForFunctions(nats.url, [...FUNCTION_NAMES], 90_000);
    const bound = await submitWorkflow(
      nc,
      gatherWorkflow(N, { name: `pg restart ${round}`, sleep: 0.2, maxConcurrent: N / 10 }),
      {
        timeoutMs: 180_000,
      },
    );
    const total = gatherTaskCount(N);
    // The client follows throughout, as `drover submit --wait` would.
    const following = followWorkflow(nc, bound.workflow_id, { timeoutMs: 900_000 });
    following.catch(() => {});
    await waitFor("a tenth DONE", 180_000, async () => (await doneCount(sql)) >= total / 10);
    const before = await doneCount(sql);
    assert.ok(before < total / 2, `the stop comes in the first half of the run (${before} DONE)`);
    await pg.stop();
    await sleep(OUTAGE_MS);
    assert.deepEqual(procs.exited(), [], "no process exited while Postgres was down");
    await pg.start();
    const restartedAt = Date.now();
    await waitFor(
      "progress after the restart",
      120_000,
      async () => (await doneCount(sql)) > before,
    );
    const resumedMs = Date.now() - restartedAt;
    const end = await following;
    assert.equal(end.status, "DONE");
    assert.equal(end.counts.DONE, total);
    await assertExactlyOnce(sql, bound.workflow_id, total);
    const [dead] = await sql<{ n: number }[]>`
      select count(*)::int as n from task_instance where workflow_id = ${bound.workflow_id} and status <> 'DONE'`;
    assert.deepEqual(procs.exited(), [], "no Drover process exited");
    return (
      `round ${round}: ${total} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `stopped at ${before} DONE for ${OUTAGE_MS / 1000} s; first task DONE ${resumedMs} ms ` +
      `after the restart; ${dead!.n} instances retried`
    );
  } finally {
    await procs.stop();
    await nc.close().catch(() => {});
    await sql.end({ timeout: 1 }).catch(() => {});
    await Promise.all([nats.stop(), pg.destroy()]);
  }
}

describe("Postgres stopped mid-run and started 10 s later", { timeout: 1_800_000 }, () => {
  for (let round = 1; round <= ROUNDS; round++) {
    test(`round ${round}: DONE, one DONE instance per task, no process restarted`, async () => {
      console.log(await restartRun(round));
    });
  }
});
