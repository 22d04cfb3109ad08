// The systemd units as a deployment uses them: each ExecStart (its module run from the
// sources here; test/package.test.ts runs the built package) with the example's settings pointed at a real Postgres and NATS, comes up, serves, and
// stops cleanly on SIGTERM (systemd's KillSignal) within its TimeoutStopSec.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connectBus, type NatsConnection } from "../../bus/connect.ts";
import { streamNameFor } from "../../bus/contracts.ts";
import { personStreams } from "../../bus/person-streams.ts";
import { loadConfig } from "../../core/config.ts";
import { localUserToken } from "../../core/identity.ts";
import { createFunctions, services } from "../../functions/registry.ts";
import { fromSources } from "../../test/helpers/built.ts";
import { type FreshDatabase, freshDatabase } from "../../test/helpers/db.ts";
import { freePort, startNats, type TestNats } from "../../test/helpers/nats.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");

interface Unit {
  file: string;
  text: string;
  service: Record<string, string>;
}

function readUnit(file: string): Unit {
  const text = readFileSync(join(HERE, file), "utf8");
  const service: Record<string, string> = {};
  let section = "";
  for (const line of text.split("\n")) {
    const header = /^\[(\w+)\]$/.exec(line.trim());
    if (header) section = header[1]!;
    const kv = /^(\w+)=(.*)$/.exec(line.trim());
    if (kv && section === "Service") service[kv[1]!] = kv[2]!;
  }
  return { file, text, service };
}

const units = readdirSync(HERE)
  .filter((f) => f.endsWith(".service"))
  .map(readUnit);

/** KEY=value lines of the example settings file. */
function exampleEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(HERE, "drover.env.example"), "utf8").split("\n")) {
    const kv = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (kv) env[kv[1]!] = kv[2]!;
  }
  return env;
}

test("every unit runs a built module of the package with node, with the settings file", () => {
  assert.deepEqual(units.map((u) => u.file).sort(), [
    "drover-function@.service",
    "drover-gui.service",
    "drover-local-bridge.service",
    "drover-slurm-bridge.service",
  ]);
  for (const u of units) {
    const argv = u.service.ExecStart!.split(" ");
    assert.equal(argv[0], "/usr/bin/node", u.file);
    assert.match(argv[1]!, /^dist\/[a-z-]+\/main\.js$/, u.file);
    const source = fromSources([argv[1]!])[2]!;
    assert.ok(existsSync(join(ROOT, source)), `${u.file}: ${argv[1]} has no source ${source}`);
    assert.equal(u.service.EnvironmentFile, "/etc/drover/drover.env", u.file);
    assert.equal(u.service.KillSignal, "SIGTERM", u.file);
    assert.ok(Number(u.service.TimeoutStopSec) > 0, u.file);
  }
});

test("the example settings are valid settings", () => {
  const config = loadConfig({}, exampleEnv());
  assert.match(config.natsUrl, /^nats:\/\//);
  assert.match(config.databaseUrl, /^postgres:\/\//);
  assert.match(config.migrateDatabaseUrl, /^postgres:\/\//);
});

test("the function unit names every function and service there is", () => {
  const unit = units.find((u) => u.file === "drover-function@.service")!;
  const listed = /^# (bind-dag .*)$/m.exec(unit.text)?.[1]?.split(" ") ?? [];
  assert.deepEqual(
    listed.sort(),
    [...Object.keys(createFunctions()), ...Object.keys(services)].sort(),
  );
});

describe("units started as systemd would", { timeout: 180_000 }, () => {
  let nats: TestNats;
  let db: FreshDatabase;
  let home: string;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  before(async () => {
    [nats, db] = await Promise.all([startNats(), freshDatabase()]);
    home = mkdtempSync(join(tmpdir(), "drover-units-"));
    nc = await connectBus(nats.url, "units-test");
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await nc.close();
    await Promise.all([nats.stop(), db.drop()]);
    rmSync(home, { recursive: true, force: true });
  });

  const consumerExists = (stream: string, name: string): Promise<boolean> =>
    jsm.consumers.info(stream, name).then(
      () => true,
      () => false,
    );

  /** Runs the unit's ExecStart until `ready`, then SIGTERMs it: it must exit 0 in time. */
  async function runUnit(
    file: string,
    instance: string,
    ready: () => Promise<boolean>,
    extra = {},
  ) {
    const unit = units.find((u) => u.file === file)!;
    const argv = unit.service.ExecStart!.replaceAll("%i", instance).split(" ");
    const child = spawn(process.execPath, fromSources(argv.slice(1)), {
      cwd: ROOT,
      env: {
        ...process.env,
        ...exampleEnv(),
        DROVER_NATS_URL: nats.url,
        DROVER_DATABASE_URL: db.url,
        DROVER_MIGRATE_DATABASE_URL: db.url,
        DROVER_HOME: home,
        DROVER_LOG_LEVEL: "warn",
        ...extra,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const deadline = Date.now() + 60_000;
      while (!(await ready())) {
        assert.equal(child.exitCode, null, `${file} exited: ${stderr}`);
        assert.ok(Date.now() < deadline, `${file} not ready: ${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      child.kill("SIGTERM");
      const code = await Promise.race([
        exited,
        new Promise((r) =>
          setTimeout(() => r("timeout"), Number(unit.service.TimeoutStopSec) * 1000),
        ),
      ]);
      assert.equal(code, 0, `${file} after SIGTERM: ${stderr}`);
    } finally {
      child.kill("SIGKILL");
    }
  }

  test("drover-function@schedule: its consumer appears; SIGTERM drains and exits 0", async () => {
    await runUnit("drover-function@.service", "schedule", () =>
      consumerExists(streamNameFor("schedule"), "schedule"),
    );
  });

  test("drover-local-bridge: takes launches; SIGTERM exits 0", async () => {
    await runUnit("drover-local-bridge.service", "", () =>
      consumerExists(personStreams(localUserToken()).launch, "bridge-local"),
    );
  });

  test("drover-gui: answers HTTP; SIGTERM exits 0", async () => {
    const port = await freePort();
    await runUnit(
      "drover-gui.service",
      "",
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/workflows`).catch(() => null);
        return res?.status === 200;
      },
      { DROVER_GUI_PORT: String(port), DROVER_GUI_HOST: "127.0.0.1" },
    );
  });
});
