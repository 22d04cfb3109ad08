// gui/API.md against a running GUI server: every request example of the document is
// sent, in the document's order, to a GUI on a real stack holding the workflows the
// document describes, and each answer must have the documented status and the
// documented shape (the same keys at every level, values of the same JSON types; null
// matches anything, and arrays are compared by their first element). Every route of
// gui/routes.ts and gui/private.ts must have an example, and the document's R and Python snippets run.
//
// DROVER_API_DOC_DUMP=FILE writes the answers there, to help write the examples.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { followWorkflow } from "../client/follow.ts";
import { Tool } from "../client/index.ts";
import { submitWorkflow } from "../client/submit.ts";
import { type GuiStack, startGuiStack } from "../test/helpers/gui.ts";

const HERE = fileURLToPath(new URL("./", import.meta.url));
const DOC = join(HERE, "API.md");
const SERVERS = [join(HERE, "routes.ts"), join(HERE, "private.ts")];

interface Example {
  /** where in the document, for messages */
  line: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  kind: "json" | "sse" | "csv";
  status: number;
  expected: string;
}

/**
 * The examples: a ```http block (request line, headers, a blank line, a body) followed
 * by a ```json block (its info string may give the status: ```json 404), a ```sse
 * block (the first lines of the event stream) or a ```csv block (its header line must
 * be the answer's).
 */
function parseExamples(markdown: string): Example[] {
  const out: Example[] = [];
  const block = /```http\n([\s\S]*?)\n```\s*\n```(json|sse|csv)(?: (\d{3}))?\n([\s\S]*?)\n```/g;
  for (const m of markdown.matchAll(block)) {
    const [head, body] = m[1]!.split(/\n\n/, 2) as [string, string | undefined];
    const [requestLine, ...headerLines] = head.split("\n");
    const [method, path] = requestLine!.trim().split(/\s+/);
    const headers: Record<string, string> = {};
    for (const h of headerLines) {
      const i = h.indexOf(":");
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    out.push({
      line: markdown.slice(0, m.index).split("\n").length,
      method: method!,
      path: path!,
      headers,
      body,
      kind: m[2] as "json" | "sse" | "csv",
      status: m[3] ? Number(m[3]) : 200,
      expected: m[4]!,
    });
  }
  return out;
}

/** The API routes of gui/routes.ts, as (method, path pattern) read from its source. */
function serverRoutes(): { method: string; path: RegExp }[] {
  const source = SERVERS.map((f) => readFileSync(f, "utf8")).join("\n");
  const routes = [...source.matchAll(/method: "(GET|POST)",\s*path: \/(.+?)\/,/g)];
  return routes.map((r) => ({ method: r[1]!, path: new RegExp(r[2]!) }));
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const kind = (v: Json) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Where `actual` differs in shape from `documented`; [] when it has the same shape. */
function shapeDifferences(documented: Json, actual: Json, at = "$"): string[] {
  if (documented === null || actual === null) return [];
  if (kind(documented) !== kind(actual)) {
    return [`${at}: documented ${kind(documented)}, got ${kind(actual)}`];
  }
  if (Array.isArray(documented) && Array.isArray(actual)) {
    if (documented.length === 0 || actual.length === 0) return [];
    return shapeDifferences(documented[0]!, actual[0]!, `${at}[0]`);
  }
  if (typeof documented === "object" && typeof actual === "object") {
    const d = documented as Record<string, Json>;
    const a = actual as Record<string, Json>;
    const out: string[] = [];
    for (const k of Object.keys(d)) if (!(k in a)) out.push(`${at}.${k}: documented, not answered`);
    for (const k of Object.keys(a)) if (!(k in d)) out.push(`${at}.${k}: answered, not documented`);
    for (const k of Object.keys(d))
      if (k in a) out.push(...shapeDifferences(d[k]!, a[k]!, `${at}.${k}`));
    return out;
  }
  return [];
}

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** Sends one example; an event stream is read until `until` characters came, then closed. */
function send(port: number, token: string, ex: Example, until?: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: `127.0.0.1:${port}` };
    // `<token>` in an example stands for the GUI's token (API.md, Access).
    for (const [k, v] of Object.entries(ex.headers)) headers[k] = v.replace("<token>", token);
    const req = request(
      { host: "127.0.0.1", port, method: ex.method, path: ex.path, headers },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers["content-type"] ?? ""),
            text,
          });
        res.on("data", (chunk: string) => {
          text += chunk;
          if (until !== undefined && text.length >= until) {
            res.destroy();
            done();
          }
        });
        res.on("end", done);
        res.on("error", reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${ex.method} ${ex.path}`)));
    req.on("error", reject);
    req.end(ex.body);
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout.on("data", (d: Buffer) => {
      text += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      text += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, type: "", text }));
  });
}

/** The fenced blocks of a language in the document, e.g. every ```r block. */
function snippets(markdown: string, language: string): string[] {
  return [...markdown.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)\\n```", "g"))].map(
    (m) => m[1]!,
  );
}

describe("gui/API.md", { timeout: 300_000 }, () => {
  let stack: GuiStack;
  const guiToken = () => (stack.gui.auth.mode === "token" ? stack.gui.auth.token : "");
  let dir: string;
  const markdown = readFileSync(DOC, "utf8");
  const examples = parseExamples(markdown);

  before(async () => {
    stack = await startGuiStack();
    dir = mkdtempSync(join(tmpdir(), "drover-api-doc-"));
    chmodSync(dir, 0o777);
    // The workflows the document's examples show (ids 1 and 2; tasks 1 to 5).
    const script = join(dir, "model.sh");
    writeFileSync(
      script,
      [
        "#!/bin/sh",
        "loc=$1 dir=$2",
        'if [ "$loc" = 2 ] && [ ! -e "$dir/retried" ]; then',
        '  touch "$dir/retried"; echo "model $loc: input not ready" >&2; exit 3',
        "fi",
        'echo "model $loc"',
      ].join("\n"),
    );
    const tool = new Tool("burden", "1");
    const model = tool.template({
      name: "model",
      command: "sh {script} {location} {dir}",
      nodeArgs: ["location"],
      opArgs: ["script", "dir"],
      resources: { memory: "512M", runtime: "10m" },
    });
    const report = tool.template({ name: "report", command: "echo report" });
    const burden = tool.workflow({
      name: "burden 2026",
      args: { round: 7 },
      defaultCluster: "local",
      defaultResources: { memory: "256M", runtime: "5m" },
      attributes: { team: "gbd" },
    });
    burden.addTasks(model.createTasks({ foreach: { location: [1, 2, 3] }, args: { script, dir } }));
    burden.addTask(report.createTask({ upstream: [{ template: model }] }));
    const first = await submitWorkflow(stack.nc, burden.toSubmission());
    const end = await followWorkflow(stack.nc, first.workflow_id, { timeoutMs: 120_000 });
    assert.equal(end.status, "DONE");

    const sleeper = tool.template({ name: "sleeper", command: "sleep 600" });
    const long = tool.workflow({ name: "long run", args: { round: 8 }, defaultCluster: "local" });
    long.addTask(sleeper.createTask({}));
    const second = await submitWorkflow(stack.nc, long.toSubmission());
    assert.deepEqual([first.workflow_id, second.workflow_id], [1, 2], "the documented ids");
    for (;;) {
      const [row] = await stack.db.sql<{ status: string }[]>`
        select status from task where workflow_id = 2`;
      if (row?.status === "RUNNING") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const tasks = await stack.db.sql<{ id: number; name: string }[]>`
      select id, name from task order by id`;
    assert.deepEqual(
      tasks.map((t) => `${t.id} ${t.name}`),
      ["1 model_location-1", "2 model_location-2", "3 model_location-3", "4 report", "5 sleeper"],
      "the documented task ids",
    );
  });

  after(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("every API route of the server has an example", () => {
    const missing = serverRoutes().filter(
      (r) => !examples.some((ex) => ex.method === r.method && r.path.test(ex.path.split("?")[0]!)),
    );
    assert.ok(serverRoutes().length >= 10, "routes read from gui/routes.ts");
    assert.deepEqual(
      missing.map((r) => `${r.method} ${r.path.source}`),
      [],
      "routes without an example in gui/API.md",
    );
  });

  test("each example answers with the documented status and shape", async () => {
    assert.ok(examples.length >= 20, `only ${examples.length} examples found`);
    const dump: unknown[] = [];
    const problems: string[] = [];
    for (const ex of examples) {
      const where = `API.md:${ex.line} ${ex.method} ${ex.path}`;
      if (ex.kind === "sse") {
        const got = await send(stack.gui.port, guiToken(), ex, ex.expected.length);
        if (got.status !== ex.status) problems.push(`${where}: status ${got.status}`);
        if (!got.type.startsWith("text/event-stream")) problems.push(`${where}: type ${got.type}`);
        if (!got.text.startsWith(ex.expected)) {
          problems.push(`${where}: stream begins ${JSON.stringify(got.text.slice(0, 80))}`);
        }
        continue;
      }
      const got = await send(stack.gui.port, guiToken(), ex);
      if (ex.kind === "csv") {
        if (got.status !== ex.status) problems.push(`${where}: status ${got.status}`);
        if (!got.type.startsWith("text/csv")) problems.push(`${where}: type ${got.type}`);
        const header = (text: string) => text.split(/\r?\n/)[0];
        if (header(got.text) !== header(ex.expected)) {
          problems.push(`${where}: header ${JSON.stringify(header(got.text))}`);
        }
        continue;
      }
      dump.push({
        line: ex.line,
        request: `${ex.method} ${ex.path}`,
        status: got.status,
        body: got.text,
      });
      if (got.status !== ex.status) {
        problems.push(`${where}: status ${got.status}, documented ${ex.status}: ${got.text}`);
        continue;
      }
      if (!got.type.startsWith("application/json")) problems.push(`${where}: type ${got.type}`);
      let documented: Json;
      try {
        documented = JSON.parse(ex.expected) as Json;
      } catch (err) {
        problems.push(`${where}: the documented answer is not JSON: ${(err as Error).message}`);
        continue;
      }
      for (const d of shapeDifferences(documented, JSON.parse(got.text) as Json)) {
        problems.push(`${where}: ${d}`);
      }
    }
    if (process.env.DROVER_API_DOC_DUMP) {
      writeFileSync(process.env.DROVER_API_DOC_DUMP, JSON.stringify(dump, null, 2));
    }
    assert.deepEqual(problems, []);
  });

  test("the R and Python snippets run against the server", async () => {
    const env = {
      ...process.env,
      DROVER_GUI_URL: stack.gui.url.replace(/\/$/, ""),
      DROVER_GUI_TOKEN: guiToken(),
    };
    const r = snippets(markdown, "r");
    const py = snippets(markdown, "python");
    assert.ok(r.length > 0 && py.length > 0, "R and Python snippets found");
    for (const code of r) {
      const got = await run("Rscript", ["-e", code], env);
      assert.equal(got.status, 0, `R snippet failed:\n${code}\n${got.text}`);
    }
    for (const code of py) {
      const got = await run("python3", ["-c", code], env);
      assert.equal(got.status, 0, `Python snippet failed:\n${code}\n${got.text}`);
    }
  });

  test("the shape check tells shapes apart", () => {
    assert.deepEqual(shapeDifferences({ a: 1, b: [{ c: "x" }] }, { a: 2, b: [{ c: "y" }] }), []);
    assert.deepEqual(shapeDifferences({ a: 1 }, { a: "1" }), [
      "$.a: documented number, got string",
    ]);
    assert.deepEqual(shapeDifferences({ a: 1 }, { b: 1 }), [
      "$.a: documented, not answered",
      "$.b: answered, not documented",
    ]);
    assert.deepEqual(shapeDifferences({ a: null }, { a: { b: 1 } }), []);
  });
});
