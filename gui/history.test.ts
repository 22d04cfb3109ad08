// The GUI's history and resource views in Chromium, against hand-computed values: the
// timeline's bars sit at their attempts' start and end, a task's status trail lists each
// change, limit changes are listed, tasks filter by an arg value and export as CSV, and
// the Resources figures (suggestion, "N× the use", "measured 7 of 10") and the
// memory-vs-runtime scatter match what the rows hold.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { CommandService } from "../bus/commands.ts";
import { fillToken } from "../bus/contract.ts";
import { submitWorkflow } from "../client/submit.ts";
import { localUserToken } from "../core/identity.ts";
import { type GuiStack, startGuiStack } from "../test/helpers/gui.ts";

const MiB = 1024 ** 2;
let stack: GuiStack;
let browser: Browser;
let page: Page;
let wf = 0;

async function until<T>(what: string, get: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + 120_000;
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not in time`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function open(path: string, ready: string): Promise<void> {
  await page.goto(new URL(path, stack.gui.url).toString());
  await page.waitForSelector(ready, { timeout: 15_000 });
}

before(async () => {
  stack = await startGuiStack();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
  const template = (name: string) => ({
    name,
    command: `${name} {i} @dummy:sleep=1`,
    node_args: ["i"],
    task_args: [],
    op_args: [],
  });
  const tasks = [
    ...Array.from({ length: 10 }, (_, k) => ({
      template: "alpha",
      name: `alpha_i-${k + 1}`,
      args: { i: String(k + 1) },
      upstream: [],
    })),
    ...Array.from({ length: 3 }, (_, k) => ({
      template: "beta",
      name: `beta_i-${k + 1}`,
      args: { i: String(k + 1) },
      upstream: [],
    })),
  ];
  const bound = await submitWorkflow(stack.nc, {
    tool: { name: "history_test", version: "1" },
    workflow: {
      name: "history",
      default_cluster: "dummy",
      default_max_attempts: 1,
      fail_fast: false,
    },
    templates: [template("alpha"), template("beta")],
    tasks,
  });
  wf = bound.workflow_id;
  await until("DONE", async () => {
    const [r] = await stack.db.sql<
      { status: string }[]
    >`select status from workflow where id = ${wf}`;
    return r?.status === "DONE";
  });
  // Known figures: alpha's runs used 1..10 s of a 10 min request and, for the first 7,
  // 100..700 MiB of 2 GiB (the last 3 unmeasured); beta's 1..3 s of a 1 min request.
  await stack.db.sql`
    update task_instance i set runtime_used = t.n, runtime_requested = 600,
      memory_used = case when t.n <= 7 then t.n * ${100 * MiB}::bigint end,
      memory_requested = ${2048 * MiB}
    from (select id, substring(name from '[0-9]+$')::int as n from task
          where workflow_id = ${wf} and name like 'alpha%') t
    where i.task_id = t.id`;
  await stack.db.sql`
    update task_instance i set runtime_used = t.n, runtime_requested = 60,
      memory_used = null, memory_requested = ${1024 * MiB}
    from (select id, substring(name from '[0-9]+$')::int as n from task
          where workflow_id = ${wf} and name like 'beta%') t
    where i.task_id = t.id`;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("GUI history and resources", { timeout: 600_000 }, () => {
  test("timeline: one bar per attempt, placed at its start and end", async () => {
    const rows = await stack.db.sql<
      { id: number; queued: Date; started: Date | null; ended: Date }[]
    >`
      select i.id, i.created_at as queued, i.status_at as ended,
        (select min(at) from task_instance_status_audit a
          where a.task_instance_id = i.id and a.status = 'RUNNING') as started
      from task_instance i where i.workflow_id = ${wf}`;
    assert.equal(rows.length, 13);
    await open(`/workflows/${wf}/timeline`, "svg.gantt");
    const svg = page.locator("svg.gantt");
    const t0 = Date.parse((await svg.getAttribute("data-t0"))!);
    const t1 = Date.parse((await svg.getAttribute("data-t1"))!);
    assert.equal(t0, Math.min(...rows.map((r) => r.queued.getTime())));
    assert.equal(t1, Math.max(...rows.map((r) => r.ended.getTime())));
    const x = (t: number) => 220 + ((t - t0) / (t1 - t0)) * (1000 - 220 - 10);
    for (const r of rows) {
      const row = page.locator(`g.gantt-row[data-instance="${r.id}"]`);
      const wait = row.locator("rect.gantt-wait");
      assert.ok(Math.abs(Number(await wait.getAttribute("x")) - x(r.queued.getTime())) < 1e-6);
      if (r.started === null) continue;
      const run = row.locator("rect.gantt-run");
      assert.equal(Date.parse((await run.getAttribute("data-start"))!), r.started.getTime());
      assert.equal(Date.parse((await run.getAttribute("data-end"))!), r.ended.getTime());
      const left = Number(await run.getAttribute("x"));
      const width = Number(await run.getAttribute("width"));
      assert.ok(Math.abs(left - x(r.started.getTime())) < 1e-6, `bar ${r.id} starts at its start`);
      const right = Math.max(x(r.ended.getTime()), left + 0.5);
      assert.ok(Math.abs(left + width - right) < 1e-6, `bar ${r.id} ends at its end`);
    }
    assert.ok((await page.locator("rect.gantt-run").count()) > 0, "attempts that ran have bars");
  });

  test("task page: the status trail lists each change; instances say queued, started, ended", async () => {
    const [task] = await stack.db.sql<{ id: number }[]>`
      select id from task where workflow_id = ${wf} and name = 'alpha_i-3'`;
    const audit = await stack.db.sql<{ status: string; at: Date }[]>`
      select status, at from task_status_audit where task_id = ${task!.id} order by at, ctid`;
    assert.ok(audit.length >= 4, "queued, instantiating, launched/running, done");
    await open(`/tasks/${task!.id}`, "#task-audit");
    const shown = await page
      .locator("#task-audit tbody tr")
      .evaluateAll((trs) =>
        trs.map((tr) => [(tr as HTMLElement).dataset.status, (tr as HTMLElement).dataset.at]),
      );
    assert.deepEqual(
      shown,
      audit.map((a) => [a.status, a.at.toISOString()]),
    );
    const [inst] = await stack.db.sql<{ created_at: Date; status_at: Date }[]>`
      select created_at, status_at from task_instance where task_id = ${task!.id}`;
    const when = (cls: string) =>
      page.locator(`details.instance time.${cls}`).first().getAttribute("datetime");
    assert.equal(Date.parse((await when("queued"))!), inst!.created_at.getTime());
    assert.equal(Date.parse((await when("ended"))!), inst!.status_at.getTime());
    assert.match(await page.locator("details.instance").first().innerText(), /Queue wait/);
  });

  test("limit history: each change through the command service, newest first", async () => {
    for (const body of [{ limit: 5 }, { limit: 0, template: "beta" }, { limit: null }]) {
      const reply = await stack.nc.request(
        fillToken(CommandService.endpoints.concurrency.subject, localUserToken()),
        JSON.stringify({ workflow_id: wf, ...body }),
        { timeout: 10_000 },
      );
      assert.equal((reply.json() as { ok?: boolean }).ok, true);
    }
    await open(`/workflows/${wf}/timeline`, "#limit-history");
    const rows = await page.locator("#limit-history tbody tr").allInnerTexts();
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, /the workflow\s+5\s+none/);
    assert.match(rows[1]!, /template beta\s+none\s+0 \(paused\)/);
    assert.match(rows[2]!, /the workflow\s+none\s+5/);
  });

  test("tasks: filter by an arg value, and the CSV export of the same filter", async () => {
    await open(`/workflows/${wf}/tasks`, "table.tasks-table");
    await page.fill("#f-arg", "i=7");
    await until("filtered", async () => (await page.locator("tr[data-task]").count()) === 1);
    assert.match(await page.locator("tr[data-task]").innerText(), /alpha_i-7/);
    await page.selectOption("#f-template", "");
    const href = await page.locator("#tasks-csv").getAttribute("href");
    assert.match(href!, /arg=i%3D7/);
    const csv = await (await fetch(new URL(href!, stack.gui.url))).text();
    const lines = csv.trimEnd().split("\r\n");
    assert.equal(lines[0], "id,name,template,status,attempts,max_attempts,status_at,args");
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /^\d+,alpha_i-7,alpha,DONE,1,1,\S+Z,"\{""i"":""7""\}"$/);
    const all = await (
      await fetch(new URL(`/api/workflows/${wf}/tasks.csv`, stack.gui.url))
    ).text();
    assert.equal(all.trimEnd().split("\r\n").length, 14);
  });

  test("resources: figures and scatter match hand-computed values", async () => {
    await open(`/workflows/${wf}/resources`, ".resource-card");
    const alpha = page.locator('.resource-card[data-template="alpha"]');
    const runtime = alpha.locator('[data-resource="runtime"]');
    const memory = alpha.locator('[data-resource="memory"]');
    // runtime: p95 of 1..10 s = 9.55; max(9.55 × 1.25, 10 × 1.1) = 11.94 s → 1 minute.
    assert.equal(await runtime.locator(".suggested-value").innerText(), "1m 00s");
    // 600 s asked, 10 s used at most: 60×, and the suggestion is below the request.
    assert.equal(
      await runtime.locator(".over-request").innerText(),
      "Requests are 60× the most any DONE attempt used (10s of 10m 00s): 1m 00s would do.",
    );
    assert.match(await runtime.locator(".measured").innerText(), /^10 DONE attempts measured/);
    // memory: 7 measured, 100..700 MiB; p95 = 670 MiB; max(837.5, 770) → 1 GiB (256 MiB steps).
    assert.equal(await memory.locator(".suggested-value").innerText(), "1 GiB");
    assert.match(
      await memory.locator(".measured").innerText(),
      /^7 of 10 DONE attempts measured \(the others ended before their memory was first sampled\)/,
    );
    assert.equal(await memory.locator(".over-request").count(), 0, "2 GiB for 700 MiB is < 4×");
    // beta: 3 s of a 1 min request is 20×, but 1 minute is the least a request can be:
    // no "N× the use" beside a suggestion equal to the request.
    const beta = page.locator('.resource-card[data-template="beta"] [data-resource="runtime"]');
    assert.equal(await beta.locator(".suggested-value").innerText(), "1m 00s");
    assert.equal(await beta.locator(".over-request").count(), 0);

    // The scatter: alpha's 7 attempts measured for both, placed on 0..max scales.
    const svg = alpha.locator("svg.scatter");
    assert.equal(Number(await svg.getAttribute("data-hi-memory")), 700 * MiB);
    assert.equal(Number(await svg.getAttribute("data-hi-runtime")), 7);
    const points = await svg.locator("circle.point").evaluateAll((cs) =>
      cs.map((c) => ({
        memory: Number((c as SVGElement).dataset.memory),
        runtime: Number((c as SVGElement).dataset.runtime),
        cx: Number(c.getAttribute("cx")),
        cy: Number(c.getAttribute("cy")),
      })),
    );
    assert.deepEqual(
      points.map((p) => [p.runtime, p.memory / MiB]).sort((a, b) => a[0]! - b[0]!),
      [1, 2, 3, 4, 5, 6, 7].map((n) => [n, n * 100]),
    );
    // charts.js: W 520, H 150, padding left 34, right 10, top 14, bottom 26.
    for (const p of points) {
      assert.ok(Math.abs(p.cx - (34 + (p.runtime / 7) * 476)) < 1e-6);
      assert.ok(Math.abs(p.cy - (14 + 110 - (p.memory / MiB / 700) * 110)) < 1e-6);
    }
    assert.equal(await page.locator('.resource-card[data-template="beta"] svg.scatter').count(), 0);
  });
});
