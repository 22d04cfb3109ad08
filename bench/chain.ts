import { parseArgs } from "node:util";
import type { Submission } from "../submission/submission.ts";
import { runOnStack } from "./lifecycle.ts";
import { percentile } from "./timeline.ts";

/**
 * `chain --length N`: N tasks in a chain on the `dummy` cluster. The per-edge latency is
 * the time from a task's DONE to its successor's DONE (a dummy task takes no time, so
 * this is all Drover: complete → schedule → launch → bridge → heartbeat → complete).
 */
function chain(n: number): Submission {
  return {
    tool: { name: "bench", version: "1" },
    workflow: {
      name: `chain ${n}`,
      default_cluster: "dummy",
      default_max_attempts: 3,
      fail_fast: false,
    },
    templates: [
      { name: "link", command: "link {i}", node_args: ["i"], task_args: [], op_args: [] },
    ],
    tasks: Array.from({ length: n }, (_, i) => ({
      template: "link",
      name: `link_${i}`,
      args: { i: String(i) },
      upstream: i === 0 ? [] : [i - 1],
    })),
  };
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { length: { type: "string", default: "1000" } },
  });
  const n = Number(values.length);
  if (!Number.isInteger(n) || n < 2) throw new Error("--length must be a whole number ≥ 2");
  const r = await runOnStack(chain(n), "chain");
  try {
    const rows = await r.sql<{ ms: number }[]>`
      with d as (
        select t.id, min(a.at) as done_at from task t join task_status_audit a on a.task_id = t.id
        where t.workflow_id = ${r.workflowId} and a.status = 'DONE' group by t.id
      )
      select extract(epoch from (down.done_at - up.done_at)) * 1000 as ms
      from edge e join d up on up.id = e.upstream_id join d down on down.id = e.downstream_id
      where e.workflow_id = ${r.workflowId} order by 1`;
    const ms = rows.map((x) => Number(x.ms));
    // The hop between tasks: complete, sched.wake, schedule.
    const hops = await r.sql<{ ms: number }[]>`
      with s as (
        select t.id, min(a.at) filter (where a.status = 'DONE') as done_at,
               min(a.at) filter (where a.status = 'QUEUED') as queued_at
        from task t join task_status_audit a on a.task_id = t.id
        where t.workflow_id = ${r.workflowId} group by t.id
      )
      select extract(epoch from (down.queued_at - up.done_at)) * 1000 as ms
      from edge e join s up on up.id = e.upstream_id join s down on down.id = e.downstream_id
      where e.workflow_id = ${r.workflowId} order by 1`;
    const hop = hops.map((x) => Number(x.ms));
    return {
      bench: "chain",
      length: n,
      status: r.status,
      seconds: { submit_to_bound: r.bind, bound_to_done: r.run },
      edge_latency_ms: {
        p50: percentile(ms, 0.5),
        p95: percentile(ms, 0.95),
        max: percentile(ms, 1),
      },
      steps: {
        "upstream DONE->QUEUED (complete + schedule)": {
          p50_ms: percentile(hop, 0.5),
          p95_ms: percentile(hop, 0.95),
        },
        ...r.steps,
      },
    };
  } finally {
    await r.stack.stop();
  }
}
