// The pages' status lists are the server's own: the module the browser imports is made
// from core/statuses.ts, so a status added there reaches every page.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import * as statuses from "../core/statuses.ts";
import { serveStatic } from "./static.ts";

test("/static/lib/statuses.js exports core/statuses.ts's lists, revalidated by ETag", async () => {
  const server = createServer((req, res) => {
    serveStatic(req, res, new URL(req.url ?? "/", "http://x").pathname).catch((err) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/static/lib/statuses.js`;
  try {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /javascript/);
    const text = await res.text();
    // Import it as the browser does: a module of frozen arrays.
    const served = await import(`data:text/javascript,${encodeURIComponent(text)}`);
    assert.deepEqual([...served.TASK_STATUSES], [...statuses.TASK_STATUSES]);
    assert.deepEqual([...served.WORKFLOW_STATUSES], [...statuses.WORKFLOW_STATUSES]);
    assert.deepEqual([...served.LIVE_WORKFLOW], [...statuses.LIVE_WORKFLOW]);
    assert.ok(Object.isFrozen(served.TASK_STATUSES));
    const again = await fetch(url, { headers: { "if-none-match": res.headers.get("etag")! } });
    assert.equal(again.status, 304);
  } finally {
    server.close();
  }
});
