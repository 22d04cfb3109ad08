/**
 * query — read models for the CLI and other clients (bus/queries.ts has the contracts).
 *
 * Subscribes: query.workflow, query.tasks, query.task, query.errors, query.workflows,
 *   query.dependencies, query.resources, query.logs, query.environment — core NATS
 *   request/reply in the queue group `query` (not JetStream: a lost request is retried
 *   by its caller, and nothing changes state).
 * Answers: the result, or `{ error }` naming the problem: an unknown id ("workflow 12
 *   does not exist"), a request that is not JSON or fails its schema, or an internal
 *   failure (logged). Never crashes on bad input (bus/serve.ts).
 * Side effects: none (reads Postgres).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Sql } from "postgres";
import { QueryService } from "../../bus/queries.ts";
import { Refused, type RunningService, serve } from "../../bus/serve.ts";
import type { Logger } from "../../core/log.ts";
import { SourcedGauge } from "../../core/metrics.ts";
import { didYouMean } from "../../core/suggest.ts";
import { templateNames } from "../../store/commands.ts";
import { taskDependencies } from "../../store/read/dependencies.ts";
import { privateAccess, taskEnvironment, taskLogSource } from "../../store/read/private.ts";
import {
  listTasks,
  taskDetail,
  workflowErrors,
  workflowSummary,
} from "../../store/read/queries.ts";
import { activeTaskCounts, workflowCounts } from "../../store/read/status-counts.ts";
import { templateResources } from "../../store/read/usage.ts";
import { taskWorkflow, workflowExists } from "../../store/read/workflow.ts";
import { listWorkflows } from "../../store/read/workflows.ts";

export type { RunningService };

export interface QueryServiceDeps {
  nc: NatsConnection;
  sql: Sql;
  log: Logger;
}

const noWorkflow = (id: number) => new Refused(`workflow ${id} does not exist`);
const noTask = (id: number) => new Refused(`task ${id} does not exist`);

async function mustExist(sql: Sql, workflowId: number): Promise<void> {
  if (!(await workflowExists(sql, workflowId))) throw noWorkflow(workflowId);
}

/**
 * Counts by status, from Postgres at each scrape of a process running this service (every
 * replica reports the same values: aggregate with max, not sum).
 */
const tasksByStatus = new SourcedGauge({
  name: "drover_tasks",
  help: "Tasks of active (QUEUED, RUNNING) workflows by task status, read from Postgres at scrape time",
  labelNames: ["status"] as const,
});
const workflowsByStatus = new SourcedGauge({
  name: "drover_workflows",
  help: "Workflows by status, read from Postgres at scrape time",
  labelNames: ["status"] as const,
});

const asSamples = (rows: { status: string; n: number }[]) =>
  rows.map((r) => ({ labels: { status: r.status }, value: r.n }));

export function startQueryService(deps: QueryServiceDeps): Promise<RunningService> {
  const { sql } = deps;
  const unmeasure = [
    tasksByStatus.add(async () => asSamples(await activeTaskCounts(sql))),
    workflowsByStatus.add(async () => asSamples(await workflowCounts(sql))),
  ];
  const running = serve(
    deps.nc,
    QueryService,
    {
      async workflow(q) {
        const found = await workflowSummary(sql, q.workflow_id);
        if (!found) throw noWorkflow(q.workflow_id);
        return found;
      },
      async tasks(q) {
        await mustExist(sql, q.workflow_id);
        return listTasks(sql, q);
      },
      async task(q) {
        const found = await taskDetail(sql, q.task_id);
        if (!found) throw noTask(q.task_id);
        return found;
      },
      async errors(q) {
        await mustExist(sql, q.workflow_id);
        if (q.template !== undefined) {
          const known = await templateNames(sql, q.workflow_id);
          if (!known.includes(q.template)) {
            throw new Refused(
              `workflow ${q.workflow_id} has no template '${q.template}'${didYouMean(q.template, known)}`,
            );
          }
        }
        if (q.task_id !== undefined && (await taskWorkflow(sql, q.task_id)) !== q.workflow_id) {
          throw new Refused(`task ${q.task_id} is not a task of workflow ${q.workflow_id}`);
        }
        return workflowErrors(sql, q);
      },
      async workflows(q) {
        // The same read model as the GUI's workflows page.
        const found = await listWorkflows(sql, { ...q, offset: 0 });
        return {
          total: found.total,
          workflows: found.workflows.map((w) => ({
            id: w.id,
            name: w.name,
            status: w.status,
            user: w.user,
            tool: w.tool,
            total: w.total,
            counts: w.counts,
            created_at: w.created_at,
            limit: w.limit,
            paused: w.paused,
          })),
        };
      },
      async dependencies(q) {
        // The same read model as the GUI's task page.
        const page = { limit: q.limit, offset: q.offset };
        const found = await taskDependencies(sql, q.task_id, page);
        if (!found) throw noTask(q.task_id);
        return {
          task: found.task,
          upstream: found.upstream.tasks,
          upstream_total: found.upstream.total,
          downstream: found.downstream.tasks,
          downstream_total: found.downstream.total,
          ...page,
        };
      },
      async resources(q) {
        await mustExist(sql, q.workflow_id);
        return templateResources(sql, q.workflow_id, q.template);
      },
      async logs(q, _subject, caller) {
        // Paths only, and only for the owner or an admin (the same rule as the GUI's).
        const found = await taskLogSource(sql, { ...q, caller });
        if ("refused" in found) throw new Refused(found.message);
        return found;
      },
      async environment(q, _subject, caller) {
        const task = await privateAccess(sql, q.task_id, caller);
        if ("refused" in task) throw new Refused(task.message);
        return { task: q.task_id, ...(await taskEnvironment(sql, task.array_id)) };
      },
    },
    deps.log,
  );
  return Promise.resolve({
    name: running.name,
    async stop() {
      for (const remove of unmeasure) remove();
      await running.stop();
    },
  });
}
