// What the GUI's browser tests run against: a private nats-server, a fresh database,
// every function and service of the registry, the local bridge (local, sequential,
// dummy) and the GUI on a free port with its read-only connection; plus the workflows
// the tests look at, submitted through the client like any user's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import type { RunningFunction } from "../../bus/runtime.ts";
import { silentLogger } from "../../core/log.ts";
import { startFunction } from "../../functions/context.ts";
import { functions, services } from "../../functions/registry.ts";
import { type RunningGui, startGui } from "../../gui/server.ts";
import { type LocalBridge, startLocalBridge } from "../../local-bridge/bridge.ts";
import { connectGuiDatabase, type GuiDatabase } from "../../store/read/connect.ts";
import type { Submission } from "../../submission/submission.ts";
import { type FreshDatabase, freshDatabase } from "./db.ts";
import { startNats, type TestNats } from "./nats.ts";

export interface GuiStack {
  nats: TestNats;
  db: FreshDatabase;
  nc: NatsConnection;
  gui: RunningGui;
  guiDb: GuiDatabase;
  /** names of the functions and services running */
  running: string[];
  stop(): Promise<void>;
}

export async function startGuiStack(): Promise<GuiStack> {
  const [nats, db] = await Promise.all([startNats(), freshDatabase()]);
  const nc = await connectBus(nats.url, "gui-test");
  const parts: { stop(): Promise<void> }[] = [];
  const names: string[] = [];
  for (const [name, fn] of Object.entries(functions)) {
    parts.push(
      (await startFunction(fn, { nc, sql: db.sql, log: silentLogger })) as RunningFunction,
    );
    names.push(name);
  }
  for (const [name, service] of Object.entries(services)) {
    parts.push(await service.start({ nc, sql: db.sql, log: silentLogger }));
    names.push(name);
  }
  const logDir = mkdtempSync(join(tmpdir(), "drover-gui-logs-"));
  const bridge: LocalBridge = await startLocalBridge({
    nc,
    log: silentLogger,
    slots: 4,
    logDir,
    killGraceMs: 500,
  });
  const guiDb = await connectGuiDatabase(db.url, silentLogger);
  const guiNc = await connectBus(nats.url, "gui-test-gui");
  const gui = await startGui({
    sql: guiDb.sql,
    nc: guiNc,
    log: silentLogger,
    port: 0,
    dbMode: guiDb.mode,
  });
  return {
    nats,
    db,
    nc,
    gui,
    guiDb,
    running: names,
    async stop() {
      await gui.stop();
      await guiNc.close();
      await guiDb.sql.end({ timeout: 2 });
      await bridge.stop();
      await Promise.all(parts.map((p) => p.stop()));
      await nc.drain();
      await nats.stop();
      await db.drop();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}

type TemplateSpec = Submission["templates"][number];
type TaskSpec = Submission["tasks"][number];

const template = (name: string, command: string, nodeArgs: string[] = []): TemplateSpec => ({
  name,
  command,
  node_args: nodeArgs,
  task_args: [],
  op_args: [],
});

function submission(
  name: string,
  cluster: string,
  templates: TemplateSpec[],
  tasks: TaskSpec[],
  extra: Partial<Submission["workflow"]> = {},
): Submission {
  return {
    tool: { name: "gui_test", version: "1" },
    workflow: {
      name,
      default_cluster: cluster,
      default_max_attempts: 2,
      fail_fast: false,
      ...extra,
    },
    templates,
    tasks,
  };
}

/**
 * A small model run on the `local` cluster (real commands, so memory and runtime are
 * measured): prep per location → model per location × year → summarize per location →
 * one report. 6 + 18 + 6 + 1 = 31 tasks.
 */
export function burden(): Submission {
  const locations = [1, 2, 3, 4, 5, 6];
  const years = [2019, 2020, 2021];
  const tasks: TaskSpec[] = [];
  const prep = new Map<number, number>();
  for (const loc of locations) {
    prep.set(loc, tasks.length);
    tasks.push({
      template: "prep",
      name: `prep_location-${loc}`,
      args: { location: String(loc) },
      upstream: [],
      attributes: { stage: "prep" },
    });
  }
  const models = new Map<number, number[]>();
  for (const loc of locations) {
    for (const year of years) {
      const list = models.get(loc) ?? [];
      list.push(tasks.length);
      models.set(loc, list);
      tasks.push({
        template: "model",
        name: `model_location-${loc}_year-${year}`,
        args: { location: String(loc), year: String(year) },
        upstream: [prep.get(loc)!],
      });
    }
  }
  const summaries: number[] = [];
  for (const loc of locations) {
    summaries.push(tasks.length);
    tasks.push({
      template: "summarize",
      name: `summarize_location-${loc}`,
      args: { location: String(loc) },
      upstream: models.get(loc)!,
    });
  }
  tasks.push({ template: "report", name: "report", args: {}, upstream: summaries });
  return submission(
    "burden estimates 2026",
    "local",
    [
      template("prep", "sleep 0.2 && echo prep {location}", ["location"]),
      template(
        "model",
        "sleep 0.{location} && seq 1 {location}0000 | sort -n > /dev/null && echo model {location} {year}",
        ["location", "year"],
      ),
      template("summarize", "sleep 0.1 && echo summarize {location}", ["location"]),
      template("report", "echo report"),
    ],
    tasks,
  );
}

/** What a hostile or careless task may print: must show as text, never run. */
export const XSS = {
  img: `<img src=x onerror="window.__xss=1">`,
  script: `<script>window.__xss=2</script>`,
};

/**
 * A run with failures: two dummy tasks fail (exit 1), one is killed for memory twice,
 * and one local task prints markup to stderr and exits 3; the rest succeed. With
 * max_attempts 2 the failures end ERROR_FATAL and the workflow FAILED.
 */
export function failing(): Submission {
  const tasks: TaskSpec[] = [];
  for (let i = 1; i <= 8; i++) {
    const mode = i <= 2 ? "@dummy:fail" : i === 3 ? "@dummy:oom" : "";
    tasks.push({
      template: "fit",
      name: `fit_draw-${i}`,
      args: { draw: String(i), mode },
      upstream: [],
    });
  }
  tasks.push({
    template: "hostile",
    name: "hostile",
    args: {},
    upstream: [],
    attributes: { note: XSS.img },
  });
  tasks.push({ template: "collect", name: "collect", args: {}, upstream: [3, 4, 5] });
  return submission(
    "ensemble fit with failures",
    "dummy",
    [
      { ...template("fit", "fit --draw {draw} {mode}", ["draw"]), op_args: ["mode"] },
      {
        ...template(
          "hostile",
          `printf '%s\\n' 'Traceback (most recent call last):' '${XSS.img}' '${XSS.script}' >&2; exit 3`,
        ),
        cluster: "local",
      },
      template("collect", "collect"),
    ],
    tasks,
  );
}

/** Tasks that sleep on the dummy cluster: a workflow that stays RUNNING for a while. */
export function sleepers(n = 4, seconds = 30): Submission {
  const tasks: TaskSpec[] = [];
  for (let i = 1; i <= n; i++) {
    tasks.push({ template: "wait", name: `wait_i-${i}`, args: { i: String(i) }, upstream: [] });
  }
  return submission(
    "long sleepers",
    "dummy",
    [template("wait", `wait {i} @dummy:sleep=${seconds}`, ["i"])],
    tasks,
  );
}

/**
 * 100,000 tasks: 500 prep → 500 × 198 model (by location) → 500 summarize (by
 * location); 198,000 edges. Submitted paused (limit 0): bound, never scheduled.
 */
export function big(): Submission {
  const locations = 500;
  const years = 198;
  const tasks: TaskSpec[] = [];
  for (let l = 0; l < locations; l++) {
    tasks.push({
      template: "prep",
      name: `prep_location-${l}`,
      args: { location: String(l) },
      upstream: [],
    });
  }
  for (let l = 0; l < locations; l++) {
    for (let y = 0; y < years; y++) {
      tasks.push({
        template: "model",
        name: `model_location-${l}_year-${1900 + y}`,
        args: { location: String(l), year: String(1900 + y) },
        upstream: [l],
      });
    }
  }
  for (let l = 0; l < locations; l++) {
    const first = locations + l * years;
    tasks.push({
      template: "summarize",
      name: `summarize_location-${l}`,
      args: { location: String(l) },
      upstream: Array.from({ length: years }, (_, y) => first + y),
    });
  }
  return submission(
    "global model 100k",
    "dummy",
    [
      template("prep", "prep --location {location}", ["location"]),
      template("model", "model --location {location} --year {year}", ["location", "year"]),
      template("summarize", "summarize --location {location}", ["location"]),
    ],
    tasks,
    { max_concurrently_running: 0 },
  );
}
