// Small workflows written straight into the database, as bind-dag would leave them
// (workflow QUEUED, run BOUND, tasks REGISTERING with their pending_upstream counts), for
// tests of the execution path that should not depend on a submission.

import { randomBytes } from "node:crypto";
import type { Sql } from "postgres";
import { localUserToken } from "../../core/identity.ts";

export interface FixtureTask {
  name: string;
  /** template name (default "t"); one task_array per template */
  template?: string;
  /** names of upstream tasks */
  upstream?: string[];
  /** default `echo <name>` */
  command?: string;
  priority?: number;
  maxAttempts?: number;
  cores?: number;
  memoryBytes?: number;
  runtimeSeconds?: number;
}

export interface FixtureOptions {
  tasks: FixtureTask[];
  /** cluster for every task (default "dummy"), queue all.q */
  cluster?: string;
  queue?: string;
  name?: string;
  /** workflow-level limit (null/undefined = unlimited, 0 = paused) */
  maxConcurrentlyRunning?: number | null;
  /** the owner's user token (default: the user running the tests) */
  owner?: string;
  /** per template (its array): limit */
  templateLimits?: Record<string, number | null>;
  failFast?: boolean;
}

export interface Fixture {
  workflowId: number;
  runId: number;
  /** task id by name */
  taskIds: Record<string, number>;
  /** array id by template name */
  arrayIds: Record<string, number>;
  /** ids of the named tasks, in the order given */
  ids(...names: string[]): number[];
  /** every task id, ascending */
  allIds: number[];
}

export async function insertWorkflow(sql: Sql, options: FixtureOptions): Promise<Fixture> {
  const tag = randomBytes(4).toString("hex");
  const byName = new Map(options.tasks.map((t) => [t.name, t]));
  for (const t of options.tasks) {
    for (const u of t.upstream ?? []) {
      if (!byName.has(u)) throw new Error(`fixture: ${t.name} names unknown upstream ${u}`);
    }
  }
  return sql.begin(async (tx) => {
    const [tool] = await tx<
      { id: number }[]
    >`insert into tool (name) values (${`fixture_${tag}`}) returning id`;
    const [version] = await tx<{ id: number }[]>`
      insert into tool_version (tool_id, version) values (${tool!.id}, '1') returning id`;
    const [placement] = await tx<{ cluster_id: number; queue_id: number }[]>`
      select c.id as cluster_id, q.id as queue_id
      from cluster c join queue q on q.cluster_id = c.id
      where c.name = ${options.cluster ?? "dummy"} and q.name = ${options.queue ?? "all.q"}`;
    if (!placement) throw new Error("fixture: unknown cluster or queue");
    const [wf] = await tx<{ id: number }[]>`
      insert into workflow (tool_version_id, name, identity_hash, dag_hash, taskset_hash, status,
        fail_fast, max_concurrently_running, default_cluster, task_count, owner)
      values (${version!.id}, ${options.name ?? `fixture ${tag}`}, ${`fixture-${tag}`}, 'dag', 'taskset',
        'QUEUED', ${options.failFast ?? false}, ${options.maxConcurrentlyRunning ?? null},
        ${options.cluster ?? "dummy"}, ${options.tasks.length}, ${options.owner ?? localUserToken()})
      returning id`;
    const workflowId = wf!.id;
    const [run] = await tx<{ id: number }[]>`
      insert into workflow_run (workflow_id) values (${workflowId}) returning id`;

    const arrayIds: Record<string, number> = {};
    for (const template of new Set(options.tasks.map((t) => t.template ?? "t"))) {
      const [tt] = await tx<{ id: number }[]>`
        insert into task_template (tool_id, name) values (${tool!.id}, ${template}) returning id`;
      const [ttv] = await tx<{ id: number }[]>`
        insert into task_template_version (task_template_id, command_template, hash)
        values (${tt!.id}, ${`run ${template}`}, ${`hash-${template}`}) returning id`;
      const [arr] = await tx<{ id: number }[]>`
        insert into task_array (workflow_id, task_template_version_id, max_concurrently_running)
        values (${workflowId}, ${ttv!.id}, ${options.templateLimits?.[template] ?? null}) returning id`;
      arrayIds[template] = arr!.id;
    }

    const n = options.tasks.length;
    const [alloc] = await tx<{ first: number }[]>`
      update id_allocator set next_id = next_id + ${n} where name = 'task' returning next_id - ${n} as first`;
    const taskIds: Record<string, number> = {};
    options.tasks.forEach((t, i) => {
      taskIds[t.name] = alloc!.first + i;
    });
    const ts = options.tasks;
    await tx`
      insert into task (id, workflow_id, array_id, name, hash, command, args, max_attempts,
        pending_upstream, cluster_id, queue_id, cores, memory_bytes, runtime_seconds, priority)
      select d.id, ${workflowId}, d.array_id, d.name, d.hash, d.command, '{}'::jsonb, d.max_attempts,
        d.pending, ${placement.cluster_id}, ${placement.queue_id}, d.cores, d.memory, d.runtime, d.priority
      from unnest(${ts.map((t) => taskIds[t.name]!)}::bigint[],
        ${ts.map((t) => arrayIds[t.template ?? "t"]!)}::bigint[],
        ${ts.map((t) => t.name)}::text[], ${ts.map((t) => `hash-${t.name}`)}::text[],
        ${ts.map((t) => t.command ?? `echo ${t.name}`)}::text[],
        ${ts.map((t) => t.maxAttempts ?? 3)}::smallint[],
        ${ts.map((t) => new Set(t.upstream ?? []).size)}::int[],
        ${ts.map((t) => t.cores ?? 1)}::smallint[],
        ${ts.map((t) => t.memoryBytes ?? 1024 ** 3)}::bigint[],
        ${ts.map((t) => t.runtimeSeconds ?? 600)}::int[],
        ${ts.map((t) => t.priority ?? 0)}::smallint[])
        as d (id, array_id, name, hash, command, max_attempts, pending, cores, memory, runtime, priority)`;
    const edges = ts.flatMap((t) =>
      [...new Set(t.upstream ?? [])].map((u) => [taskIds[u]!, taskIds[t.name]!] as const),
    );
    if (edges.length > 0) {
      await tx`
        insert into edge (workflow_id, upstream_id, downstream_id)
        select ${workflowId}, u, d
        from unnest(${edges.map((e) => e[0])}::bigint[], ${edges.map((e) => e[1])}::bigint[]) as e (u, d)`;
      // As bind writes it: the template-level DAG beside the edges.
      await tx`
        insert into array_edge (workflow_id, upstream_array_id, downstream_array_id, edge_count)
        select ${workflowId}, u.array_id, d.array_id, count(*)
        from edge e join task u on u.id = e.upstream_id join task d on d.id = e.downstream_id
        where e.workflow_id = ${workflowId} group by 2, 3`;
    }
    return {
      workflowId,
      runId: run!.id,
      taskIds,
      arrayIds,
      ids: (...names: string[]) =>
        names.map((name) => {
          const id = taskIds[name];
          if (id === undefined) throw new Error(`fixture: no task ${name}`);
          return id;
        }),
      allIds: Object.values(taskIds).sort((a, b) => a - b),
    };
  });
}

/** DAG shapes. Names are `<template>_<i>`. */
export const shapes = {
  /** step_0 → step_1 → … → step_{n-1} */
  chain(n: number, template = "step"): FixtureTask[] {
    return Array.from({ length: n }, (_, i) => ({
      name: `${template}_${i}`,
      template,
      ...(i > 0 ? { upstream: [`${template}_${i - 1}`] } : {}),
    }));
  },
  /** top_0 → mid_0, mid_1 → bottom_0 */
  diamond(): FixtureTask[] {
    return [
      { name: "top_0", template: "top" },
      { name: "mid_0", template: "mid", upstream: ["top_0"] },
      { name: "mid_1", template: "mid", upstream: ["top_0"] },
      { name: "bottom_0", template: "bottom", upstream: ["mid_0", "mid_1"] },
    ];
  },
  /** split_0 → work_0 … work_{n-1} → join_0 */
  fanOutIn(n: number): FixtureTask[] {
    const work = Array.from({ length: n }, (_, i) => ({
      name: `work_${i}`,
      template: "work",
      upstream: ["split_0"],
    }));
    return [
      { name: "split_0", template: "split" },
      ...work,
      { name: "join_0", template: "join", upstream: work.map((w) => w.name) },
    ];
  },
  /** n independent tasks of one template */
  flat(n: number, template = "t"): FixtureTask[] {
    return Array.from({ length: n }, (_, i) => ({ name: `${template}_${i}`, template }));
  },
};
