// Drover as a person or a site installs it: `npm pack` of this checkout (its prepack
// builds dist/), installed with npm into an empty prefix. The installed package runs
// its built JavaScript only (no tsx, esbuild or TypeScript installed with it): its
// `drover` command works from any folder, its functions and local bridge run a
// workflow, and the README's TypeScript quick-start, copied verbatim into an empty
// project folder that installed the tarball, runs to DONE against them.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { startNats, type TestNats, waitForFunctions } from "./helpers/nats.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** What a build reads: the product's folders and files (not tests, data or outputs). */
const SKIP = new Set([".git", "node_modules", "dist", "test-output", "bench", "test", "clients"]);

/** The README's TypeScript quick-start, as printed. */
function readmeQuickStart(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### TypeScript"));
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(block, "the README has a TypeScript quick-start");
  return block[1]!;
}

/** Every path under `dir`, relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? walk(path, base) : [relative(base, path)];
  });
}

describe("the installed package", { timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), "drover-package-"));
  const prefix = join(work, "prefix");
  let tarball = "";
  let installed = "";
  let nats: TestNats;
  let db: FreshDatabase;
  const children: ChildProcess[] = [];
  const npm = (args: string[], cwd: string) =>
    run("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
    });

  before(async () => {
    [nats, db] = await Promise.all([startNats(), freshDatabase()]);
    // Packed from a copy: a build replaces dist/, which tests running beside this one
    // use (the worker bundle); the copy shares the checkout's node_modules.
    const source = join(work, "source");
    cpSync(ROOT, source, {
      recursive: true,
      filter: (path) => !SKIP.has(relative(ROOT, path).split("/")[0]!),
    });
    symlinkSync(join(ROOT, "node_modules"), join(source, "node_modules"));
    const packed = await npm(["pack", "--json", "--pack-destination", work], source);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as {
      filename: string;
    }[];
    tarball = join(work, info!.filename);
    await npm(["install", "--global", "--prefix", prefix, tarball], work);
    installed = join(prefix, "lib", "node_modules", "drover");
  });

  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all([nats?.stop(), db?.drop()]);
    rmSync(work, { recursive: true, force: true });
  });

  test("holds built JavaScript and what it reads, and no development tools", () => {
    const files = walk(installed).filter((f) => !f.startsWith("node_modules/"));
    for (const needed of [
      "bin/drover.mjs",
      "dist/cli/main.js",
      "dist/functions/main.js",
      "dist/client/index.js",
      "dist/client/index.d.ts",
      "dist/drover-worker.mjs",
      "dist/drover-spawner.mjs",
      "sql/000001_schema.sql",
      "gui/static/index.html",
      "deploy/local/services.sh",
      "deploy/systemd/drover-function@.service",
    ]) {
      assert.ok(files.includes(needed), `${needed} is in the package`);
    }
    const sources = files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
    assert.deepEqual(sources, [], "no TypeScript sources: the package runs dist/");
    assert.deepEqual(
      files.filter((f) => f.endsWith(".test.js") || f.includes(".test.")),
      [],
      "no tests",
    );
    for (const tool of ["tsx", "esbuild", "typescript"]) {
      assert.ok(!existsSync(join(installed, "node_modules", tool)), `${tool} is not installed`);
    }
  });

  test("`drover` is on the PATH of the prefix and works from any folder", async () => {
    const anywhere = mkdtempSync(join(work, "anywhere-"));
    const drover = join(prefix, "bin", "drover");
    const { stdout } = await run(drover, ["--help"], { cwd: anywhere });
    assert.match(stdout, /Usage: drover COMMAND/);
    // A spec is checked by the built submission model before anything is sent.
    writeFileSync(join(anywhere, "bad.yaml"), "tool: { name: t }\nworkflow: { name: w }\n");
    const refused = await run(drover, ["submit", "bad.yaml"], {
      cwd: anywhere,
      env: { ...process.env, DROVER_NATS_URL: nats.url },
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    assert.ok(refused, "an invalid spec is refused");
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /templates|tasks/);
  });

  test("its functions and local bridge run the README's TypeScript quick-start to DONE", async () => {
    const home = join(work, "home");
    mkdirSync(home, { mode: 0o700 });
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DROVER_NATS_URL: nats.url,
      DROVER_DATABASE_URL: db.url,
      DROVER_HOME: home,
      DROVER_LOG_LEVEL: "warn",
    };
    const start = (args: string[]) => {
      const child = spawn(process.execPath, args, {
        cwd: installed,
        env,
        stdio: ["ignore", "ignore", "inherit"],
      });
      children.push(child);
      return child;
    };
    start(["dist/functions/main.js"]);
    start(["dist/local-bridge/main.js", "--clusters", "local"]);
    await waitForFunctions(nats.url, ["bind-dag", "schedule", "launch", "complete"], 60_000);

    // A project folder: the tarball and tsx (to run a .ts file), the quick-start as
    // printed plus one line that prints its result, and the programs its tasks call.
    const project = join(work, "project");
    mkdirSync(join(project, "bin"), { recursive: true });
    writeFileSync(join(project, "package.json"), '{ "private": true, "type": "module" }\n');
    await npm(["install", tarball, "tsx"], project);
    writeFileSync(
      join(project, "burden.ts"),
      `${readmeQuickStart()}console.log(JSON.stringify(result));\n`,
    );
    writeFileSync(join(project, "model.py"), "import sys\nprint('model', sys.argv[1:])\n");
    writeFileSync(join(project, "agg.py"), "import sys\nprint('agg', sys.argv[1:])\n");
    writeFileSync(join(project, "bin", "python"), '#!/bin/sh\nexec python3 "$@"\n');
    chmodSync(join(project, "bin", "python"), 0o755);
    const { stdout } = await run(join(project, "node_modules", ".bin", "tsx"), ["burden.ts"], {
      cwd: project,
      env: { ...env, PATH: `${join(project, "bin")}:${process.env.PATH}` },
      timeout: 300_000,
    });
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
      status: string;
      counts: Record<string, number>;
    };
    assert.equal(result.status, "DONE", stdout);
    assert.equal(result.counts.DONE, 9, JSON.stringify(result.counts));
  });
});
