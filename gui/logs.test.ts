// The task page's log viewer and environment in Chromium: the owner (the browser that
// shows the GUI's token) reads a task's stdout tail, pages back, switches to stderr and to
// an earlier attempt, and sees the environment its command got; a browser without the
// token, and the owner's browser on someone else's task, see only that they are private.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { submitWorkflow } from "../client/submit.ts";
import { userToken } from "../core/identity.ts";
import { type GuiStack, startGuiStack } from "../test/helpers/gui.ts";
import { type GuiAuth, TOKEN_COOKIE } from "./auth.ts";

let stack: GuiStack;
let browser: Browser;
let owner: BrowserContext;
let stranger: BrowserContext;
let scratch: string;
const task = { long: 0, retried: 0 };

const LINES = 8000;

async function until<T>(what: string, get: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + 120_000;
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not in time`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function open(ctx: BrowserContext, path: string, ready: string): Promise<Page> {
  const page = await ctx.newPage();
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
  await page.goto(new URL(path, stack.gui.url).toString());
  await page.waitForSelector(ready, { timeout: 15_000 });
  return page;
}

function tokenOf(auth: GuiAuth): string {
  if (auth.mode !== "token") throw new Error("the test GUI runs in token mode");
  return auth.token;
}

before(async () => {
  stack = await startGuiStack();
  scratch = mkdtempSync(join(tmpdir(), "drover-gui-logs-test-"));
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  owner = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await owner.addCookies([
    { name: TOKEN_COOKIE, value: tokenOf(stack.gui.auth), url: stack.gui.url },
  ]);
  stranger = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const marker = join(scratch, "tried");
  const bound = await submitWorkflow(stack.nc, {
    tool: { name: "gui_logs_test", version: "1" },
    workflow: {
      name: "logs",
      default_cluster: "local",
      default_max_attempts: 2,
      fail_fast: false,
      env: { GREETING: "hello from the spec" },
      working_dir: scratch,
    },
    templates: [
      {
        name: "long",
        command: `seq -f 'line %05g' 1 ${LINES}; echo "greeting: $GREETING" >&2`,
        node_args: [],
        task_args: [],
        op_args: [],
      },
      {
        name: "retried",
        command: `if test -e ${marker}; then echo second try; else touch ${marker}; echo first try; exit 3; fi`,
        node_args: [],
        task_args: [],
        op_args: [],
      },
    ],
    tasks: [
      { template: "long", name: "long", args: {}, upstream: [] },
      { template: "retried", name: "retried", args: {}, upstream: [] },
    ],
  });
  await until("DONE", async () => {
    const [r] = await stack.db.sql<{ status: string }[]>`
      select status from workflow where id = ${bound.workflow_id}`;
    return r?.status === "DONE";
  });
  const rows = await stack.db.sql<{ id: number; name: string }[]>`
    select id, name from task where workflow_id = ${bound.workflow_id}`;
  for (const r of rows) task[r.name as keyof typeof task] = r.id;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("task page: logs and environment", { timeout: 300_000 }, () => {
  test("the owner reads the stdout tail, pages back, and switches stream and attempt", async () => {
    const page = await open(owner, `/tasks/${task.long}`, "#task-log:not(:empty)");
    const tail = await page.locator("#task-log").innerText();
    assert.match(tail, new RegExp(`line ${String(LINES).padStart(5, "0")}\\n?$`));
    assert.doesNotMatch(tail, /line 00001\n/, "the whole file, not its tail");
    assert.match(await page.locator("#log-meta").innerText(), /attempt 1 of 1 · DONE · \/\S+\.out/);
    await page.click("#log-earlier");
    await page.waitForFunction(() =>
      document.querySelector("#task-log")?.textContent?.startsWith("line 00001\n"),
    );
    await page.selectOption("#log-stream", "stderr");
    await page.waitForFunction(() =>
      document.querySelector("#task-log")?.textContent?.includes("greeting: hello from the spec"),
    );
    // The environment its command got, and where it ran.
    await page.click("details.env-vars > summary");
    const env = await page.locator("#task-env").innerText();
    assert.match(env, /GREETING\s+hello from the spec/);
    assert.match(await page.locator("#task-private").innerText(), new RegExp(scratch));
    await page.close();

    const retried = await open(owner, `/tasks/${task.retried}`, "#task-log:not(:empty)");
    assert.equal((await retried.locator("#task-log").innerText()).trim(), "second try");
    await retried.selectOption("#log-attempt", "1");
    await retried.waitForFunction(
      () => document.querySelector("#task-log")?.textContent === "first try\n",
    );
    assert.match(await retried.locator("#log-meta").innerText(), /attempt 1 of 2 · ERROR/);
    await retried.close();
  });

  test("a browser that has not shown the token sees that logs are private", async () => {
    const page = await open(stranger, `/tasks/${task.long}`, "#task-private-notice");
    assert.match(
      await page.locator("#task-private-notice").innerText(),
      /Private: .*owner and admins/,
    );
    assert.equal(await page.locator("#task-log").count(), 0);
    assert.equal(await page.locator("#task-env").count(), 0);
    // The rest of the task is everyone's.
    assert.match(await page.locator("#task-command").innerText(), /seq -f/);
    await page.close();
  });

  test("the owner's browser on someone else's task sees only that it is private", async () => {
    const [wf] = await stack.db.sql<{ id: number; owner: string }[]>`
      select w.id, w.owner from workflow w join task t on t.workflow_id = w.id
      where t.id = ${task.long}`;
    await stack.db
      .sql`update workflow set owner = ${userToken("someone-else")} where id = ${wf!.id}`;
    try {
      const page = await open(owner, `/tasks/${task.long}`, "#task-private-notice");
      assert.match(
        await page.locator("#task-private-notice").innerText(),
        /private to its owner, someone-else, and admins/,
      );
      assert.equal(await page.locator("#task-log").count(), 0);
      assert.equal(await page.locator("#task-env").count(), 0);
      await page.close();
    } finally {
      await stack.db.sql`update workflow set owner = ${wf!.owner} where id = ${wf!.id}`;
    }
  });
});
