// Where and with what a task runs, and what it never gets: a stack started with
// credentials and a canary in every service's and bridge's environment (`drover up`, the
// CLI as users run it), a workflow submitted from folder X with FOO=x. Each task prints
// its folder and environment, on `local` and on the real Slurm. Afterwards every file
// under DROVER_HOME (logs, Slurm job folders and manifests, the stack file) is the
// owner's only.
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { startNats, type TestNats } from "./helpers/nats.ts";
import { slurmSkip } from "./helpers/slurm.ts";

const CANARY = "canary-7f3a";
const DB_PASSWORD = "canary-db-pw";

function drover(args: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()) {
  const r: SpawnSyncReturns<string> = spawnSync(
    process.execPath,
    [join(process.cwd(), "bin/drover.mjs"), ...args],
    { env, cwd, encoding: "utf8", timeout: 300_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every entry under `root` whose mode lets anyone but the owner in. */
function openToOthers(root: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) found.push(`${path} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const e of readdirSync(path)) walk(join(path, e));
  };
  walk(root);
  return found;
}

describe("a task's folder and environment", () => {
  let db: FreshDatabase;
  let nats: TestNats;
  let home: string;
  let folder: string;
  let stackEnv: NodeJS.ProcessEnv;
  let submitterEnv: NodeJS.ProcessEnv;

  before(async () => {
    db = await freshDatabase();
    nats = await startNats();
    home = mkdtempSync(join(tmpdir(), "drover-taskenv-home-"));
    folder = mkdtempSync(join(tmpdir(), "drover-taskenv-x-"));
    mkdirSync(join(folder, "sub"));
    const passworded = db.url.replace(
      "postgres://postgres@",
      `postgres://postgres:${DB_PASSWORD}@`,
    );
    const base = { PATH: process.env.PATH, HOME: process.env.HOME, DROVER_HOME: home };
    // Credentials and a canary in the environment of every service and bridge.
    stackEnv = {
      ...base,
      DROVER_DATABASE_URL: passworded,
      DROVER_NATS_URL: nats.url,
      DROVER_NATS_CREDS: `/canary/${CANARY}.creds`,
      NATS_PASSWORD: CANARY,
      PGPASSWORD: CANARY,
      CANARY_SECRET: CANARY,
      DROVER_LOG_LEVEL: "warn",
    };
    // The submitter: FOO, and settings that must not cross either.
    submitterEnv = {
      ...base,
      FOO: "x",
      DROVER_NATS_URL: nats.url,
      DROVER_DATABASE_URL: passworded,
      PGPASSWORD: CANARY,
      MY_SERVICE: `https://app:${CANARY}@example.org/`,
    };
    const up = drover(["up", "--json"], stackEnv);
    assert.equal(up.code, 0, up.stderr);
    // The stack runs its own authenticated NATS: the submitter's DROVER_NATS_URL is that
    // one (a setting that must not cross to the task all the same).
    submitterEnv.DROVER_NATS_URL = JSON.parse(
      readFileSync(join(home, "stack.json"), "utf8"),
    ).natsUrl;
  });

  after(async () => {
    const down = drover(["down", "--json"], stackEnv);
    await nats?.stop();
    await db?.drop();
    rmSync(home, { recursive: true, force: true });
    rmSync(folder, { recursive: true, force: true });
    assert.equal(down.code, 0, down.stderr);
  });

  /** Submits `tasks` from `folder` and returns each task's stdout once the workflow is DONE. */
  function run(name: string, templates: string, tasks: string): Map<string, string> {
    const spec = [
      `tool: { name: taskenv }`,
      `workflow: { name: ${name}, default_resources: { memory: 256M, runtime: 5m } }`,
      `templates:`,
      templates,
      `tasks:`,
      tasks,
      "",
    ].join("\n");
    writeFileSync(join(folder, `${name}.yaml`), spec);
    const submitted = drover(["submit", `${name}.yaml`, "--wait", "--json"], submitterEnv, folder);
    assert.equal(submitted.code, 0, `${submitted.stdout}\n${submitted.stderr}`);
    const id = JSON.parse(submitted.stdout).id as number;
    const listed = drover(["tasks", String(id), "--json"], submitterEnv);
    const out = new Map<string, string>();
    for (const t of JSON.parse(listed.stdout).tasks as { id: number; name: string }[]) {
      const task = JSON.parse(drover(["task", String(t.id), "--json"], submitterEnv).stdout);
      out.set(t.name, readFileSync(task.instances[0].stdout, "utf8"));
    }
    return out;
  }

  function assertClean(output: string): void {
    for (const secret of [
      CANARY,
      DB_PASSWORD,
      "DROVER_DATABASE_URL",
      "DROVER_NATS_",
      "PGPASSWORD",
      "NATS_PASSWORD",
      "CANARY_SECRET",
    ]) {
      assert.ok(!output.includes(secret), `${secret} reached a task:\n${output}`);
    }
  }

  test("on local: the submit folder, FOO, levels of env and working_dir, nothing of the stack", () => {
    const out = run(
      "local-env",
      [
        `  - { name: show, command: "pwd; env # {k}", node_args: [k], env: { LEVEL: template } }`,
        `  - { name: elsewhere, command: "pwd; env", working_dir: sub }`,
      ].join("\n"),
      [
        `  - { template: show, name: plain, args: { k: 1 } }`,
        `  - { template: show, name: own, args: { k: 2 }, env: { LEVEL: task, BAR: "y" } }`,
        `  - { template: elsewhere, name: moved }`,
      ].join("\n"),
    );
    const plain = out.get("plain")!;
    assert.equal(plain.split("\n")[0], folder);
    assert.match(plain, /^FOO=x$/m);
    assert.match(plain, /^LEVEL=template$/m);
    assert.match(plain, /^DROVER_CLUSTER=local$/m);
    assert.match(plain, /^DROVER_TASK_ID=\d+$/m);
    assertClean(plain);
    assert.match(out.get("own")!, /^LEVEL=task$/m);
    assert.match(out.get("own")!, /^BAR=y$/m);
    assert.equal(out.get("moved")!.split("\n")[0], join(folder, "sub"));
    assertClean(out.get("moved")!);
  });

  test("on Slurm: the submit folder, FOO, nothing of the bridge", { skip: slurmSkip }, () => {
    const out = run(
      "slurm-env",
      `  - { name: show, command: "pwd; env", cluster: slurm }`,
      `  - { template: show, name: on_slurm, env: { BAR: "y" } }`,
    );
    const text = out.get("on_slurm")!;
    assert.equal(text.split("\n")[0], folder);
    assert.match(text, /^FOO=x$/m);
    assert.match(text, /^BAR=y$/m);
    assert.match(text, /^DROVER_CLUSTER=slurm$/m);
    assert.match(text, /^SLURM_JOB_ID=\d+$/m);
    assertClean(text);
  });

  test("every file and folder under DROVER_HOME is the owner's only", () => {
    assert.deepEqual(openToOthers(home), []);
  });
});
