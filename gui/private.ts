/**
 * A task's private parts in the GUI: its log contents and the environment it was given,
 * shown to the workflow's owner and admins only (everything else in the GUI is for
 * everyone who reaches it).
 *
 *   GET /api/tasks/:id/logs?stream=stdout|stderr&attempt=N&offset=BYTES&limit=BYTES
 *   GET /api/tasks/:id/environment
 *
 * Who asks is decided as for actions (auth.ts); whether they may see it, by the query
 * service (the same rule as `drover logs`): the GUI asks it as that person. The GUI's
 * database role may not read environments at all, and a site's GUI may not be able to
 * read a person's files (0600, theirs): such a file is read by the owner's bridge of the
 * task's cluster (bus/bridge-logs.ts), or answered with `unreadable`, its path and why.
 */
import type { IncomingMessage } from "node:http";
import type { NatsConnection } from "@nats-io/nats-core";
import { readLogAnywhere } from "../client/bridge-logs.ts";
import { Queries, QueryFailed } from "../client/query.ts";
import { LogUnreadable } from "../core/log-file.ts";
import { actingUser, type GuiAuth } from "./auth.ts";
import { HttpError, pathId } from "./http.ts";
import type { Route } from "./routes.ts";

/** The page shows this much of a log at a time (its tail first). */
export const LOG_PAGE_BYTES = 64 * 1024;
const LOG_PAGE_MAX = 1024 * 1024;

/** The person asking; without one, the answer says the parts are private, not "log in". */
function reader(req: IncomingMessage, auth: GuiAuth): string {
  try {
    return actingUser(req, auth);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    throw new HttpError(
      403,
      `a task's logs and environment are private to its owner and admins, and this browser has not said who it is (${err.message})`,
      { cause: err },
    );
  }
}

/** A refusal of the query service as an HTTP status: private 403, unknown 404. */
function asHttp(err: unknown): never {
  if (!(err instanceof QueryFailed)) throw err;
  throw new HttpError(/ are private to /.test(err.message) ? 403 : 404, err.message, {
    cause: err,
  });
}

export function privateRoutes(nc: NatsConnection, auth: GuiAuth): Route[] {
  const queries = (req: IncomingMessage) => new Queries(nc, reader(req, auth));
  return [
    {
      method: "GET",
      path: /^\/api\/tasks\/([^/]+)\/logs$/,
      handler: async ({ req, match, params: p }) => {
        const taskId = pathId(match[1], "task");
        const stream = p.oneOf("stream", ["stdout", "stderr"] as const) ?? "stdout";
        const attempt = p.int("attempt", 0, 0, 1e9) || undefined;
        const offset = p.text("offset") === undefined ? undefined : p.int("offset", 0, 0, 1e15);
        const limit = p.int("limit", LOG_PAGE_BYTES, 1, LOG_PAGE_MAX);
        const source = await queries(req).logs({ task_id: taskId, stream, attempt }).catch(asHttp);
        if (source.path === null) {
          return { ...source, content: "", start: 0, end: 0, size: 0 };
        }
        try {
          // Read here, or (a site's GUI is not the owner) by the owner's bridge.
          const { bytes, ...range } = await readLogAnywhere(
            nc,
            { ...source, path: source.path },
            { start: offset, maxBytes: limit },
          );
          return { ...source, ...range, content: bytes.toString("utf8") };
        } catch (err) {
          if (!(err instanceof LogUnreadable)) throw err;
          return { ...source, content: null, unreadable: err.message };
        }
      },
    },
    {
      method: "GET",
      path: /^\/api\/tasks\/([^/]+)\/environment$/,
      handler: async ({ req, match }) =>
        queries(req)
          .environment({ task_id: pathId(match[1], "task") })
          .catch(asHttp),
    },
  ];
}
