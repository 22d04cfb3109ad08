// drover logs TASK: a task's stdout or stderr. The query service says where the file is
// (and refuses anyone but the owner and admins); the file itself is read here, as the
// person running the command: a task's logs are its owner's files, which the service
// account behind the query service may not be able to read.
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/nats-core";
import type { LogsAnswer } from "../../bus/queries.ts";
import { readLogAnywhere } from "../../client/bridge-logs.ts";
import { type Queries, QueryFailed } from "../../client/query.ts";
import { LogUnreadable, readLogSlice } from "../../core/log-file.ts";
import { ENDED_WORKFLOW } from "../../core/statuses.ts";
import { CliError, defineCommand, type Io, UsageError, writeJson } from "../args.ts";
import { parseId, withQueries } from "../context.ts";

/** Bytes read per slice: bounds memory whatever the file's size. */
const SLICE = 1 << 20;
/** How often --follow looks for new output, and asks whether the attempt has ended. */
const POLL_MS = 250;
const STATUS_EVERY_MS = 1000;
/** How often --follow asks whether a task that has not started yet has its first attempt. */
const START_POLL_MS = 1000;

export const command = defineCommand({
  name: "logs",
  summary: "a task's output (stdout or stderr) of its latest or a given attempt",
  usage: `Usage: drover logs TASK [--stderr] [--attempt N] [--follow] [--json]

Print the standard output of task TASK's latest attempt (instance), or its standard
error with --stderr. Attempts are numbered from 1 in the order they were made, as
'drover task' lists them. Only the task's owner and admins may read its logs.

The file is read on this host, as you. Where it is not here, your bridge of the task's
cluster reads it for you, when it runs (the host of 'drover up' for local tasks, a login
node for Slurm tasks); --follow reads on this host only.

Options:
  --stderr      the attempt's standard error instead of its standard output
  --attempt N   attempt N (from 1) instead of the latest
  --follow      keep printing as the file grows, until the attempt ends; a task
                that has not started yet is waited for
  --json        print {"task", "attempt", "attempts", "instance", "status", "stream",
                "path", "content"} (not with --follow)
  -h, --help    show this help

Example:
  drover logs 4711 --stderr --attempt 2
`,
  options: {
    stderr: { type: "boolean" },
    attempt: { type: "string" },
    follow: { type: "boolean" },
    json: { type: "boolean" },
  },
  positionals: ["TASK"],
  async run({ positionals, values, json }, io) {
    const task = parseId(positionals[0], "TASK");
    const attempt = values.attempt === undefined ? undefined : parseId(values.attempt, "--attempt");
    if (json && values.follow) throw new UsageError("--json and --follow cannot go together");
    const request = {
      task_id: task,
      stream: values.stderr ? "stderr" : "stdout",
      attempt,
    } as const;
    return withQueries(io, async (q, nc) => {
      const ask = (n: number | undefined) =>
        q.logs({ ...request, attempt: n }).catch((err) => {
          throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
        });
      if (values.follow && attempt === undefined) await untilStarted(io, q, task);
      const source = await ask(attempt);
      // Following stays with this attempt, even when a retry makes a newer one.
      if (values.follow) return follow(io, source, () => ask(source.attempt));
      const content = await readAll(source, nc);
      if (json) {
        const { task: id, attempt: n, attempts, instance, status, stream, path } = source;
        writeJson(io, { task: id, attempt: n, attempts, instance, status, stream, path, content });
      } else {
        io.stdout(content);
      }
      return 0;
    });
  },
});

/**
 * Waits until task `task` has its first attempt, saying once on stderr that it waits.
 * Gives up (exit 2) when nothing will start it: its workflow has ended (a held or
 * still binding workflow has not).
 */
async function untilStarted(io: Io, q: Queries, task: number): Promise<void> {
  const ask = () =>
    q.task({ task_id: task }).catch((err) => {
      throw err instanceof QueryFailed ? new CliError(err.message, 2) : err;
    });
  let said = false;
  for (let t = await ask(); t.instances.length === 0; t = await ask()) {
    const workflow = await q.workflow({ workflow_id: t.workflow });
    if ((ENDED_WORKFLOW as readonly string[]).includes(workflow.status)) {
      throw new CliError(
        `task ${task} has not started and will not: its workflow ${t.workflow} is ${workflow.status}`,
        2,
      );
    }
    if (!said) {
      io.stderr(`drover logs: task ${task} is ${t.status}; waiting for its first attempt\n`);
      said = true;
    }
    await sleep(START_POLL_MS);
  }
}

function located(source: LogsAnswer): string {
  if (source.path !== null) return source.path;
  throw new CliError(
    `task ${source.task}'s attempt ${source.attempt} has no ${source.stream} file yet (it is ${source.status}); 'drover logs ${source.task} --follow' waits for it`,
    2,
  );
}

/** The whole file: read here, else by the owner's bridge of the task's cluster. */
async function readAll(source: LogsAnswer, nc: NatsConnection): Promise<string> {
  const place = { ...source, path: located(source) };
  const decoder = new TextDecoder();
  let text = "";
  for (let start = 0; ; ) {
    const slice = await readLogAnywhere(nc, place, { start, maxBytes: SLICE }).catch(asCliError);
    text += decoder.decode(slice.bytes, { stream: true });
    start = slice.end;
    if (slice.bytes.length === 0 || start >= slice.size) break;
  }
  return text + decoder.decode();
}

/**
 * Prints the file as it grows until the attempt has ended and everything it wrote is
 * printed. A file not there yet is waited for while the attempt lives (a Slurm job that
 * has not started, a bridge that has not reported the paths).
 */
async function follow(io: Io, first: LogsAnswer, ask: () => Promise<LogsAnswer>): Promise<number> {
  const decoder = new TextDecoder();
  let source = first;
  let start = 0;
  let askedAt = Date.now();
  for (;;) {
    // Read what is there first, then decide: the attempt may have ended after writing.
    const ended = source.ended;
    if (source.path !== null) {
      const place = { path: source.path, node: source.node };
      for (;;) {
        const slice = await readLogSlice(place, { start, maxBytes: SLICE }).catch((err) => {
          if (!ended && err instanceof LogUnreadable && /not on this host/.test(err.message)) {
            return undefined; // not written yet
          }
          return asCliError(err);
        });
        if (!slice || slice.bytes.length === 0) break;
        io.stdout(decoder.decode(slice.bytes, { stream: true }));
        start = slice.end;
      }
    }
    if (ended) {
      if (source.path === null) located(source);
      const rest = decoder.decode();
      if (rest) io.stdout(rest);
      return 0;
    }
    await sleep(POLL_MS);
    if (Date.now() - askedAt >= STATUS_EVERY_MS) {
      source = await ask();
      askedAt = Date.now();
    }
  }
}

function asCliError(err: unknown): never {
  throw err instanceof LogUnreadable ? new CliError(err.message, 2, { cause: err }) : err;
}
