// Who may act in the GUI: reads for everyone; actions with the printed token (a personal
// stack) or as the user a trusted sign-on proxy names (a site); the Host always checked.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import type { RunningService } from "../bus/serve.ts";
import { localUserToken } from "../core/identity.ts";
import { silentLogger } from "../core/log.ts";
import { startCommandService } from "../functions/command/service.ts";
import { connectGuiDatabase, type GuiDatabase } from "../store/read/connect.ts";
import { type FreshDatabase, freshDatabase } from "../test/helpers/db.ts";
import { startNats, type TestNats } from "../test/helpers/nats.ts";
import { insertWorkflow } from "../test/helpers/workflow-fixture.ts";
import { TOKEN_COOKIE } from "./auth.ts";
import { type RunningGui, startGui } from "./server.ts";

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** node:http, not fetch: a test must be able to send any Host header. */
function call(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      new URL(path, url),
      {
        method: options.method ?? "GET",
        headers: {
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text);
          } catch {
            // the app's HTML
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

describe("the GUI's authentication", () => {
  let nats: TestNats;
  let db: FreshDatabase;
  let nc: NatsConnection;
  let guiDb: GuiDatabase;
  let commands: RunningService;
  const guis: RunningGui[] = [];
  /** a workflow of alice's and one of the user running the GUI */
  let alices: number;
  let mine: number;

  const stop = (gui: RunningGui, id: number, headers: Record<string, string> = {}) =>
    call(gui.url, `/api/workflows/${id}/stop`, { method: "POST", body: {}, headers });

  before(async () => {
    [nats, db] = await Promise.all([startNats(), freshDatabase()]);
    nc = await connectBus(nats.url, "gui-auth-test");
    commands = await startCommandService({ nc, sql: db.sql, log: silentLogger });
    guiDb = await connectGuiDatabase(db.url, silentLogger);
    const tasks = [{ name: "a", upstream: [] }];
    alices = (await insertWorkflow(db.sql, { tasks, owner: "alice" })).workflowId;
    mine = (await insertWorkflow(db.sql, { tasks, owner: localUserToken() })).workflowId;
  });
  after(async () => {
    await Promise.allSettled(guis.map((g) => g.stop()));
    await commands?.stop();
    await guiDb?.sql.end({ timeout: 2 });
    await nc?.close();
    await Promise.allSettled([nats?.stop(), db?.drop()]);
  });

  const gui = async (options: Partial<Parameters<typeof startGui>[0]> = {}) => {
    const g = await startGui({ sql: guiDb.sql, nc, log: silentLogger, port: 0, ...options });
    guis.push(g);
    return g;
  };

  test("a personal GUI: reads for anyone, actions only with its token (header or cookie)", async () => {
    const g = await gui();
    assert.equal(g.auth.mode, "token");
    const token = g.auth.mode === "token" ? g.auth.token : "";
    assert.ok(token.length >= 32, "a long random token");
    assert.ok(g.openUrl.endsWith(`?token=${token}`));

    assert.equal((await call(g.url, "/api/workflows")).status, 200, "reading needs no token");
    const anonymous = await stop(g, mine);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.body.error), /token/);
    assert.equal((await stop(g, mine, { Authorization: "Bearer wrong" })).status, 401);

    // The printed URL sets the cookie a browser then acts with.
    const first = await call(g.url, `/?token=${token}`);
    const cookie = String(first.headers["set-cookie"] ?? "");
    assert.match(cookie, new RegExp(`^${TOKEN_COOKIE}=`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.equal((await call(g.url, "/?token=wrong")).headers["set-cookie"], undefined);

    // With the token it acts as its own user: its own workflow stops, alice's is hers.
    const own = await stop(g, mine, { Cookie: cookie.split(";")[0]! });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.status, "HALTED");
    const foreign = await stop(g, alices, { Authorization: `Bearer ${token}` });
    assert.equal(foreign.status, 409);
    assert.match(String(foreign.body.error), /belongs to alice/);
  });

  test("a site GUI: the signed-on user from a trusted proxy acts as themselves", async () => {
    const g = await gui({
      auth: { mode: "header", header: "X-Remote-User", trusted: new Set(["127.0.0.1"]) },
    });
    assert.equal(g.openUrl, g.url, "no token in a site's URL");
    const bob = await stop(g, alices, { "X-Remote-User": "bob" });
    assert.equal(bob.status, 409);
    assert.match(String(bob.body.error), /belongs to alice/);
    assert.equal((await stop(g, alices)).status, 401, "no signed-on user");
    const alice = await stop(g, alices, { "X-Remote-User": "alice" });
    assert.equal(alice.status, 200, JSON.stringify(alice.body));
    assert.equal(alice.body.status, "HALTED");

    // The same header from an address that is not the proxy is not believed.
    const elsewhere = await gui({
      auth: { mode: "header", header: "X-Remote-User", trusted: new Set(["10.9.9.9"]) },
    });
    const forged = await stop(elsewhere, alices, { "X-Remote-User": "alice" });
    assert.equal(forged.status, 403);
    assert.match(String(forged.body.error), /sign-on proxy/);
  });

  test("the Host header is checked against the names the GUI answers to", async () => {
    const g = await gui({ hosts: ["drover.example.org"] });
    const foreign = await call(g.url, "/api/workflows", { headers: { Host: "evil.example" } });
    assert.equal(foreign.status, 421);
    const named = await call(g.url, "/api/workflows", {
      headers: { Host: "drover.example.org" },
    });
    assert.equal(named.status, 200);
  });
});
