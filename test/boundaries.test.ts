// The architecture's boundaries hold because a tool checks them (`npm run lint`): for
// each rule of .dependency-cruiser.cjs, a probe file with a forbidden import is added to
// the tree and the check must fail, naming that rule and that file.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";

const ROOT = resolve(import.meta.dirname, "..");
const CRUISER = join(ROOT, "node_modules", ".bin", "depcruise");

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Cruises `files` (repo-relative) with the project's rules; the violations found. */
async function violations(files: string[]): Promise<Violation[]> {
  const run = promisify(execFile)(
    CRUISER,
    ["--config", ".dependency-cruiser.cjs", "--output-type", "json", ...files],
    { cwd: ROOT, maxBuffer: 64 << 20 },
  );
  // A run with violations exits non-zero; its report is on stdout either way.
  const { stdout } = await run.catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** Writes probe files (repo-relative path → source), runs `check`, removes them. */
async function withProbes(
  probes: Record<string, string>,
  check: (paths: string[]) => Promise<void>,
): Promise<void> {
  const paths = Object.keys(probes);
  try {
    for (const [path, source] of Object.entries(probes)) writeFileSync(join(ROOT, path), source);
    await check(paths);
  } finally {
    for (const path of paths) rmSync(join(ROOT, path), { force: true });
  }
}

const tag = () => `zz-probe-${randomBytes(4).toString("hex")}`;

async function expectViolation(
  rule: string,
  probes: Record<string, string>,
  from = Object.keys(probes)[0]!,
): Promise<void> {
  await withProbes(probes, async (paths) => {
    const found = await violations(paths);
    assert.ok(
      found.some((v) => v.rule.name === rule && v.from === from),
      `expected ${rule} from ${from}; found ${JSON.stringify(found.map((v) => [v.rule.name, v.from, v.to]))}`,
    );
  });
}

describe("boundaries checked by npm run lint", { timeout: 120_000 }, () => {
  test("the tree as it is passes", async () => {
    const found = await violations([
      "bin",
      "bus",
      "cli",
      "client",
      "core",
      "functions",
      "gui",
      "local-bridge",
      "slurm-bridge",
      "store",
      "submission",
      "worker",
      "scripts",
      "test",
    ]);
    assert.deepEqual(found, []);
  });

  test("functions never import each other", async () => {
    await expectViolation("functions-stay-apart", {
      [`functions/retry/${tag()}.ts`]: `import "../schedule/schedule.ts";\n`,
    });
  });

  test("bus/, store/ and core/ never import functions, the CLI, the GUI or bridges", async () => {
    for (const [from, target] of [
      ["bus", "../functions/registry.ts"],
      ["store", "../cli/main.ts"],
      ["core", "../gui/server.ts"],
      ["store", "../slurm-bridge/bridge.ts"],
    ] as const) {
      await expectViolation("lower-layers-stay-below", {
        [`${from}/${tag()}.ts`]: `import "${target}";\n`,
      });
    }
  });

  test("bus/ never imports store/", async () => {
    await expectViolation("bus-without-store", {
      [`bus/${tag()}.ts`]: `import "../store/connect.ts";\n`,
    });
  });

  test("store/ never publishes: only the bus's types", async () => {
    await expectViolation("store-without-nats", {
      [`store/${tag()}.ts`]: `import { createPublisher } from "../bus/publish.ts";\nexport const p = createPublisher;\n`,
    });
  });

  test("client/, worker/ and the bridges never reach store/ or postgres, even through other modules", async () => {
    await expectViolation("nats-only", {
      [`client/${tag()}.ts`]: `import postgres from "postgres";\nexport const p = postgres;\n`,
    });
    await expectViolation("nats-only", {
      [`local-bridge/${tag()}.ts`]: `import "../store/connect.ts";\n`,
    });
    // Transitively: the worker imports an innocent-looking module that reaches the store.
    const middle = `core/${tag()}.ts`;
    const worker = `worker/${tag()}.ts`;
    await expectViolation(
      "nats-only",
      {
        [worker]: `import "../${middle}";\n`,
        [middle]: `import "../store/catalog.ts";\n`,
      },
      worker,
    );
  });

  test("no source file imports a test helper", async () => {
    await expectViolation("no-test-helpers-in-source", {
      [`gui/${tag()}.ts`]: `import "../test/helpers/db.ts";\n`,
    });
  });

  test("no import cycles between folders: a layer never imports one above it or beside it", async () => {
    await expectViolation("no-folder-cycles", {
      [`submission/${tag()}.ts`]: `import "../client/index.ts";\n`,
    });
    await expectViolation("no-folder-cycles", {
      [`local-bridge/${tag()}.ts`]: `import "../slurm-bridge/state.ts";\n`,
    });
  });
});
