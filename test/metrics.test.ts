// Metrics during a real run: every function, the services, the dummy bridge and the GUI
// as separate processes, each serving /metrics on its own port, scraped while a workflow
// runs on a private nats-server and a fresh database. The counters must move as the
// workflow moves, and end equal to what NATS and Postgres say happened: each consumer
// handled exactly the messages its stream received, the launch batches carried exactly
// the instances created, the bridge took exactly the batches published.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import { Contracts, streamNameFor } from "../bus/contracts.ts";
import { followWorkflow } from "../client/follow.ts";
import { submitWorkflow } from "../client/submit.ts";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import {
  type DroverProcesses,
  FUNCTION_NAMES,
  startDroverProcesses,
} from "./helpers/drover-processes.ts";
import { gatherTaskCount, gatherWorkflow } from "./helpers/gather-workflow.ts";
import { type Sample, scrape, total } from "./helpers/metrics.ts";
import { startNats, type TestNats, waitForFunctions } from "./helpers/nats.ts";

const N = 400;
const TASKS = gatherTaskCount(N);
const FAIL_EVERY = 20;

let nats: TestNats;
let db: FreshDatabase;
let nc: NatsConnection;
let procs: DroverProcesses;

before(async () => {
  [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  procs = await startDroverProcesses({
    natsUrl: nats.url,
    databaseUrl: db.url,
    metrics: true,
    gui: true,
  });
  nc = await connectBus(nats.url, "metrics-e2e");
  await waitForFunctions(nats.url, [...FUNCTION_NAMES], 60_000);
});

after(async () => {
  await procs?.stop();
  await nc?.close();
  await Promise.all([nats?.stop(), db?.drop()]);
});

const url = (key: string) => procs.metricsUrls.get(key)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scrapeUp(key: string): Promise<Sample[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await scrape(url(key));
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

test("counters move with the workflow and end equal to what happened", async () => {
  // Every process answers before the run (the bridge and GUI start their servers first).
  for (const key of procs.metricsUrls.keys()) await scrapeUp(key);

  const bound = await submitWorkflow(nc, gatherWorkflow(N, { sleep: 0.2, failEvery: FAIL_EVERY }), {
    timeoutMs: 120_000,
  });
  const done = followWorkflow(nc, bound.workflow_id, { timeoutMs: 300_000 });
  let finished = false;
  void done.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );

  // While it runs: complete's counter never goes back, the bridge holds instances, and
  // the task gauge counts every task of the running workflow.
  const completed: number[] = [];
  const bridgeRunning: number[] = [];
  const doneSeen: number[] = [];
  while (!finished) {
    const [fn, bridge, services] = await Promise.all([
      scrape(url("complete")),
      scrape(url("bridge")),
      scrape(url("services")),
    ]);
    completed.push(total(fn, "drover_messages_handled_total", { consumer: "complete" }));
    bridgeRunning.push(total(bridge, "drover_bridge_instances", { cluster: "dummy" }));
    const counted = total(services, "drover_tasks");
    if (counted > 0 && !finished) {
      assert.equal(counted, TASKS, "tasks by status add up to the running workflow's tasks");
      doneSeen.push(total(services, "drover_tasks", { status: "DONE" }));
    }
    await sleep(150);
  }
  const end = await done;
  assert.equal(end.status, "DONE");
  assert.equal(end.counts.DONE, TASKS);

  const rising = (xs: number[]) => xs.every((x, i) => i === 0 || x >= xs[i - 1]!);
  assert.ok(rising(completed), `complete's handled counter never falls: ${completed}`);
  assert.ok(new Set(completed).size >= 3, `it moved during the run: ${completed}`);
  assert.ok(rising(doneSeen), `DONE tasks never fall: ${doneSeen}`);
  assert.ok(
    doneSeen.some((d) => d > 0 && d < TASKS),
    `DONE seen part-way: ${doneSeen}`,
  );
  assert.ok(Math.max(...bridgeRunning) > 0, "the bridge was seen holding instances");

  // What happened, according to Postgres.
  const [facts] = await db.sql<{ instances: number; batches: number; failed: number }[]>`
    select (select count(*)::int from task_instance where workflow_id = ${bound.workflow_id}) as instances,
      (select count(*)::int from launch_batch where workflow_id = ${bound.workflow_id}) as batches,
      (select count(*)::int from task_instance
        where workflow_id = ${bound.workflow_id} and status <> 'DONE') as failed`;
  // Each group's work tasks 0, 20, 40, … failed their first attempt once.
  const groups = Math.round(N / 100);
  const perGroup = TASKS / groups - 1;
  assert.equal(facts!.failed, groups * Math.ceil(perGroup / FAIL_EVERY));
  assert.equal(facts!.instances, TASKS + facts!.failed);

  const launch = await scrape(url("launch"));
  assert.equal(
    total(launch, "drover_launch_batch_size_sum", { cluster: "dummy" }),
    facts!.instances,
    "launch batches carried every instance once",
  );
  assert.equal(
    total(launch, "drover_launch_batch_size_count", { cluster: "dummy" }),
    facts!.batches,
  );
  const bridge = await scrape(url("bridge"));
  assert.equal(
    total(bridge, "drover_messages_handled_total", {
      consumer: Contracts.launch.durable!("dummy"),
      subject: Contracts.launch.subject,
    }),
    facts!.batches,
    "the bridge took every batch once",
  );
  const retry = await scrape(url("retry"));
  assert.ok(total(retry, "drover_messages_handled_total", { consumer: "retry" }) > 0);

  console.log(
    `metrics e2e: ${TASKS} tasks, ${facts!.instances} instances in ${facts!.batches} batches; ` +
      `${completed.length} scrapes during the run, complete handled ${completed.join(",")}`,
  );

  // Each function handled exactly the messages its stream received (fresh NATS: a
  // stream's last sequence is its message count), once the bus is quiet.
  const jsm = await jetstreamManager(nc);
  for (const fn of FUNCTION_NAMES) {
    const stream = streamNameFor(fn);
    let last = { handled: -1, received: -2, dead: 0, lag: 0 };
    const deadline = Date.now() + 30_000;
    while (last.handled !== last.received) {
      if (Date.now() > deadline) assert.fail(`${fn}: ${JSON.stringify(last)}`);
      const s = await scrape(url(fn));
      const info = await jsm.streams.info(stream);
      last = {
        handled: total(s, "drover_messages_handled_total", { consumer: fn }),
        received: info.state.last_seq,
        dead: total(s, "drover_dead_letters_total", { consumer: fn }),
        lag:
          total(s, "drover_consumer_pending_messages", { consumer: fn }) +
          total(s, "drover_consumer_ack_pending_messages", { consumer: fn }),
      };
      if (last.handled !== last.received) await sleep(300);
    }
    assert.equal(last.dead, 0, `${fn}: no dead letters`);
    assert.ok(last.received > 0 || fn === "register-queues", `${fn} received messages`);
    const s = await scrape(url(fn));
    assert.ok(
      total(s, "drover_handler_duration_seconds_count", { consumer: fn }) >= last.handled,
      `${fn}: every handled message was timed`,
    );
  }

  const services = await scrape(url("services"));
  assert.equal(total(services, "drover_workflows", { status: "DONE" }), 1);
  assert.equal(total(services, "drover_tasks"), 0, "no active workflow is left");
  assert.ok(
    total(services, "drover_requests_total", { service: "query", outcome: "ok" }) > 0,
    "the follower's queries were answered and counted",
  );

  // The GUI counts what it answers.
  const res = await fetch(new URL("api/workflows", procs.guiUrl));
  assert.equal(res.status, 200);
  const gui = await scrape(url("gui"));
  assert.ok(total(gui, "drover_gui_requests_total", { kind: "api", status: "200" }) >= 1);

  assert.deepEqual(procs.exited(), [], "no process exited");
});
