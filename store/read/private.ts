// A task's private parts, for its workflow's owner and admins only: where its log files
// are (behind `drover logs`, through the query service, and the GUI's log viewer) and the
// environment it was given. Only paths leave the database for logs; whoever reads a
// file reads it as themselves, on a host that has it.
import type { Sql } from "postgres";
import { userFromToken } from "../../core/identity.ts";
import { LIVE_INSTANCE } from "../../core/statuses.ts";
import { arraySettings } from "../environment.ts";
import { isAdmin } from "../people.ts";

export type LogStream = "stdout" | "stderr";

export interface LogSource {
  task: number;
  task_name: string;
  workflow: number;
  /** the attempt shown: 1 is the task's first instance, in the order they were created */
  attempt: number;
  /** instances the task has had */
  attempts: number;
  instance: number;
  status: string;
  /** false while the instance may still write to its files */
  ended: boolean;
  cluster: string;
  /** the workflow's owner (a user token): their bridge of `cluster` can read the file */
  owner: string | null;
  /** the host it ran on, when known */
  node: string | null;
  stream: LogStream;
  /** null until the bridge has reported where the file is */
  path: string | null;
}

/** Why a request for a task's logs gets no source. */
export type LogRefusal =
  | { refused: "no-task"; message: string }
  | { refused: "private"; message: string }
  | { refused: "no-attempt"; message: string };

/** The task's owner, when `caller` may read its private parts (logs, environment). */
interface Readable {
  name: string;
  workflow_id: number;
  array_id: number;
  cluster: string;
  /** the workflow's owner (a user token): whose bridge wrote the task's files */
  owner: string | null;
}

/**
 * Whether `caller` (a user token) may read a task's logs and captured environment: its
 * workflow's owner and admins may, no one else (everyone may read the rest of a task).
 */
export async function privateAccess(
  sql: Sql,
  taskId: number,
  caller: string,
): Promise<Readable | LogRefusal> {
  const [task] = await sql<Readable[]>`
    select t.name, t.workflow_id, t.array_id, w.owner, c.name as cluster
    from task t join workflow w on w.id = t.workflow_id join cluster c on c.id = t.cluster_id
    where t.id = ${taskId}`;
  if (!task) return { refused: "no-task", message: `task ${taskId} does not exist` };
  if (task.owner !== caller && !(await isAdmin(sql, caller))) {
    const owner =
      task.owner === null ? "no one (only admins may read them)" : userFromToken(task.owner);
    return {
      refused: "private",
      message: `the logs and environment of task ${taskId} are private to its owner, ${owner}, and admins`,
    };
  }
  return task;
}

/**
 * The log source of a task's attempt (`attempt` from 1; the latest when omitted) for
 * `caller` (a user token), or why not: an unknown task, a task of someone else (unless
 * the caller is an admin), an attempt the task has not had.
 */
export async function taskLogSource(
  sql: Sql,
  q: { task_id: number; caller: string; stream: LogStream; attempt?: number | undefined },
): Promise<LogSource | LogRefusal> {
  const task = await privateAccess(sql, q.task_id, q.caller);
  if ("refused" in task) return task;
  const instances = await sql<
    {
      id: number;
      status: string;
      node: string | null;
      stdout_path: string | null;
      stderr_path: string | null;
    }[]
  >`
    select id, status, node, stdout_path, stderr_path
    from task_instance where task_id = ${q.task_id} order by id`;
  const attempt = q.attempt ?? instances.length;
  const inst = instances[attempt - 1];
  if (!inst) {
    const had =
      instances.length === 0
        ? "has not started yet"
        : `has had ${instances.length} attempt(s): use --attempt 1 to ${instances.length}`;
    const what = q.attempt === undefined ? "no attempt" : `no attempt ${q.attempt}`;
    return { refused: "no-attempt", message: `task ${q.task_id} has ${what}: it ${had}` };
  }
  return {
    task: q.task_id,
    task_name: task.name,
    workflow: task.workflow_id,
    attempt,
    attempts: instances.length,
    instance: inst.id,
    status: inst.status,
    ended: !(LIVE_INSTANCE as readonly string[]).includes(inst.status),
    cluster: task.cluster,
    owner: task.owner,
    node: inst.node,
    stream: q.stream,
    path: q.stream === "stdout" ? inst.stdout_path : inst.stderr_path,
  };
}

/**
 * The environment and folder a task's command gets (the workflow's, under its template's),
 * as captured at submit; null for a workflow bound before environments were stored.
 * Call only after privateAccess allowed it.
 */
export async function taskEnvironment(
  sql: Sql,
  arrayId: number,
): Promise<{ env: Record<string, string> | null; working_dir: string | null }> {
  const found = (await arraySettings(sql, [arrayId])).get(arrayId);
  return { env: found?.env ?? null, working_dir: found?.working_dir ?? null };
}
