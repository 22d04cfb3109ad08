// Execution end to end on the local clusters: shapes run to DONE, one DONE instance per
// task, and no task started before every upstream task ended (the tasks' own timestamps);
// a submitter that exits at once; a backend written from the documented contracts alone.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { followWorkflow } from "../client/follow.ts";
import { localUserToken } from "../core/identity.ts";
import type { Submission } from "../submission/submission.ts";
import { startTestStack, type TestStack } from "./helpers/stack.ts";

let stack: TestStack;
before(async () => {
  stack = await startTestStack({ slots: 4 });
});
after(async () => {
  await stack.stop();
});

type Shape = { name: string; tasks: Submission["tasks"] };
const t = (name: string, upstream: number[]): Submission["tasks"][number] => ({
  template: "step",
  name,
  args: { n: name },
  upstream,
});
const SHAPES: Shape[] = [
  { name: "diamond", tasks: [t("top", []), t("left", [0]), t("right", [0]), t("bottom", [1, 2])] },
  {
    name: "fan",
    tasks: [
      t("source", []),
      ...Array.from({ length: 1000 }, (_, i) => t(`wide_${i}`, [0])),
      t(
        "sink",
        Array.from({ length: 1000 }, (_, i) => i + 1),
      ),
    ],
  },
  {
    name: "chain",
    tasks: Array.from({ length: 10 }, (_, i) => t(`link_${i}`, i === 0 ? [] : [i - 1])),
  },
];

function submission(shape: Shape, cluster: string): Submission {
  return {
    tool: { name: "shapes", version: "1" },
    workflow: {
      name: `${shape.name} on ${cluster}`,
      default_cluster: cluster,
      default_max_attempts: 1,
      fail_fast: false,
    },
    templates: [
      { name: "step", command: "true {n}", node_args: ["n"], task_args: [], op_args: [] },
    ],
    tasks: shape.tasks,
  };
}

async function checkRun(workflowId: number): Promise<void> {
  const [counts] = await stack.sql<{ tasks: number; wrong: number }[]>`
    select count(*)::int as tasks, count(*) filter (where n <> 1 or status <> 'DONE')::int as wrong from (
      select t.id, t.status, count(i.id) filter (where i.status = 'DONE') as n
      from task t left join task_instance i on i.task_id = t.id
      where t.workflow_id = ${workflowId} group by t.id) s`;
  assert.equal(counts!.wrong, 0, "every task DONE with exactly one DONE instance");
  // A task was queued (so could start) only after each of its upstream tasks was DONE.
  // (RUNNING may have no audit row: a command faster than its running report goes
  // straight to DONE.)
  const [early] = await stack.sql<{ n: number }[]>`
    with at as (
      select task_id, min(at) filter (where status = 'QUEUED') as started,
             min(at) filter (where status = 'DONE') as done
      from task_status_audit where workflow_id = ${workflowId} group by task_id
    )
    select count(*)::int as n from edge e
    join at up on up.task_id = e.upstream_id join at down on down.task_id = e.downstream_id
    where e.workflow_id = ${workflowId} and (down.started is null or down.started < up.done)`;
  assert.equal(early!.n, 0, "no task started before its upstream tasks ended");
}

describe("shapes on every local cluster", { timeout: 600_000 }, () => {
  for (const cluster of ["local", "dummy", "sequential"]) {
    for (const shape of SHAPES) {
      test(`${shape.name} on ${cluster}`, async () => {
        const end = await stack.run(submission(shape, cluster), { timeoutMs: 300_000 });
        assert.equal(end.status, "DONE");
        assert.equal(end.counts.DONE, shape.tasks.length);
        await checkRun(end.id);
      });
    }
  }
});

test("the submitting process exits right after submit: the workflow still finishes", {
  timeout: 120_000,
}, async () => {
  // Asynchronous on purpose: the stack's handlers live in this process and must keep
  // running while the child waits for its workflow to be bound.
  const { stdout: out } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", "test/fixtures/submit-and-exit.ts", stack.nats.url],
    { encoding: "utf8" },
  );
  const workflowId = Number(out.trim());
  const end = await followWorkflow(stack.nc, workflowId, { timeoutMs: 60_000 });
  assert.equal(end.status, "DONE");
  assert.equal(end.counts.DONE, 21);
});

test("a backend written from the documented contracts alone runs a workflow to DONE", {
  timeout: 120_000,
}, async () => {
  // A new cluster, as an operator registers one.
  const [cluster] = await stack.sql<{ id: number }[]>`
    insert into cluster (name, kind) values ('elsewhere', 'external') returning id`;
  await stack.sql`insert into queue (cluster_id, name) values (${cluster!.id}, 'main')`;
  // The backend: plain JetStream calls on the documented subjects, no Drover code.
  // Everything under the submitter's user token: their launch stream, their subjects.
  const me = localUserToken();
  const jsm = await jetstreamManager(stack.nc);
  // The documented durable of a cluster's bridge, on the person's launch stream (made
  // here unless the service made it first).
  await jsm.consumers
    .add(`DROVER_LAUNCH_${me}`, {
      durable_name: "bridge-elsewhere",
      filter_subject: `launch.elsewhere.${me}`,
      ack_policy: AckPolicy.Explicit,
    })
    .catch((err: Error) => {
      if (!/already (exists|in use)/i.test(err.message)) throw err;
    });
  const js = jetstream(stack.nc);
  const consumer = await js.consumers.get(`DROVER_LAUNCH_${me}`, "bridge-elsewhere");
  const messages = await consumer.consume();
  const seen: string[] = [];
  const backend = (async () => {
    for await (const m of messages) {
      const batch = m.json<{ batch_id: number; instances: { id: number; command: string }[] }>();
      const ids = batch.instances.map((i) => i.id);
      seen.push(...batch.instances.map((i) => i.command));
      await js.publish(
        `ti.${me}.launched`,
        JSON.stringify({
          v: 1,
          cluster: "elsewhere",
          instances: ids.map((id) => ({ id, distributor_id: `far-${id}` })),
        }),
      );
      await js.publish(
        `ti.${me}.running`,
        JSON.stringify({ v: 1, instances: ids.map((id) => ({ id, node: "far-node" })) }),
      );
      await js.publish(
        `ti.${me}.done`,
        JSON.stringify({
          v: 1,
          results: ids.map((id) => ({ id, exit_code: 0, runtime_used: 0.5 })),
        }),
      );
      m.ack();
    }
  })();
  const end = await stack.run(submission(SHAPES[0]!, "elsewhere"), { timeoutMs: 60_000 });
  messages.stop();
  await backend;
  assert.equal(end.status, "DONE");
  assert.deepEqual(seen.sort(), ["true bottom", "true left", "true right", "true top"]);
  await checkRun(end.id);
  const [inst] =
    await stack.sql`select distributor_id, node from task_instance where workflow_id = ${end.id} limit 1`;
  assert.match(inst!.distributor_id, /^far-/);
  assert.equal(inst!.node, "far-node");
});
