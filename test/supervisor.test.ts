// Every job runs as the person who submitted it, and keeps running when they are gone:
// real Unix users submit through the CLI as themselves (and their client exits), a
// login node's supervisor (root, a subprocess) starts a bridge as each of them, on the
// local cluster and on the real Slurm. Each task writes `id -un`; Slurm's accounting
// names the job's user; log files are the submitter's. A bridge SIGKILLed mid-run is
// restarted and the workflow finishes with one DONE instance per task.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Sql } from "postgres";
import { connectBus, type NatsConnection } from "../bus/connect.ts";
import type { RunningFunction } from "../bus/runtime.ts";
import { userToken } from "../core/identity.ts";
import { silentLogger } from "../core/log.ts";
import { startFunction } from "../functions/context.ts";
import { createFunctions, services } from "../functions/registry.ts";
import { type FreshDatabase, freshDatabase } from "./helpers/db.ts";
import { startNats, type TestNats } from "./helpers/nats.ts";
import { collectOutput, type Output } from "./helpers/output.ts";
import { slurmSkip } from "./helpers/slurm.ts";
import { addTestUsers, installForEveryone, type TestUser } from "./helpers/users.ts";

const ROOT = join(import.meta.dirname, "..");
const isRoot = process.getuid?.() === 0;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("jobs run as their submitter, under a login node's supervisor", {
  skip: !isRoot && "needs root (useradd, the supervisor)",
  timeout: 600_000,
}, () => {
  let db: FreshDatabase;
  let sql: Sql;
  let nats: TestNats;
  let site: string;
  let people: { remove(): void };
  let install: { dir: string; remove(): void };
  let alice: TestUser;
  let bob: TestUser;
  let service: NatsConnection;
  const running: RunningFunction[] = [];
  let supervisor: ChildProcess;
  let supervisorLog = "";
  /** every launch batch a bridge reported taking: whose bridge, whose instances */
  const launched: { token: string; instances: number[] }[] = [];
  const clusters = slurmSkip ? ["local"] : ["local", "slurm"];

  /** `drover ARGS` as root, asynchronously (the functions run in this process). */
  const asRoot = (args: string[]) =>
    run(process.execPath, [join(ROOT, "bin/drover.mjs"), ...args], {
      ...process.env,
      DROVER_SITE_DIR: site,
      DROVER_DATABASE_URL: db.url,
      DROVER_HOME: join(site, "root-home"),
      DROVER_LOG_LEVEL: "warn",
    });

  /** `drover ARGS` as the person, from their home, with their own environment. */
  const asPerson = (u: TestUser, args: string[], extra: Record<string, string> = {}) =>
    run(
      "runuser",
      ["-u", u.name, "--", process.execPath, join(install.dir, "bin/drover.mjs"), ...args],
      {
        PATH: process.env.PATH,
        HOME: u.home,
        USER: u.name,
        DROVER_NATS_URL: nats.url,
        DROVER_LOG_LEVEL: "warn",
        ...extra,
      },
      u.home,
    );

  const submit = async (u: TestUser, name: string, cluster: string, tasks: number, nap: number) => {
    const spec = join(u.home, `${name}.yaml`);
    writeFileSync(
      spec,
      `tool: { name: whoami }
workflow: { name: ${name}, default_cluster: ${cluster}, default_resources: { cores: 1, memory: 256M, runtime: 5m } }
templates:
  - name: who
    command: "mkdir -p ${name}; id -un > ${name}/{i}.txt; sleep ${nap}"
    node_args: [i]
tasks:
  - { template: who, foreach: { i: [${Array.from({ length: tasks }, (_, i) => i + 1).join(", ")}] } }
`,
    );
    execFileSync("chown", [`${u.name}:`, spec]);
    // No --wait: the client is gone once the workflow is bound.
    const r = await asPerson(u, ["submit", spec, "--json"]);
    assert.equal(r.status, 0, `${u.name} submit: ${r.stderr}${r.stdout}`);
    return Number(JSON.parse(r.stdout).id);
  };

  const finished = async (workflow: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [wf] = await sql<{ status: string }[]>`
        select status from workflow where id = ${workflow}`;
      if (wf?.status === "DONE") return;
      if (Date.now() > deadline || wf?.status === "FAILED") {
        const counts = await sql`select status, count(*)::int as n from task
          where workflow_id = ${workflow} group by status`;
        const errors = await sql`select error_kind, left(error, 400) as error from task_instance
          where workflow_id = ${workflow} and error is not null limit 3`;
        assert.fail(
          `workflow ${workflow} is ${wf?.status}: ${JSON.stringify(counts)} ${JSON.stringify(errors)}\n${supervisorLog.slice(-3000)}\n${bridgeLogs()}`,
        );
      }
      await wait(300);
    }
  };

  /** The tail of each person's bridge logs, for failure messages. */
  const bridgeLogs = () =>
    [alice, bob]
      .map((u) => {
        const dir = join(u.home, ".drover", "logs");
        const files = existsSync(dir)
          ? readdirSync(dir).filter((f) => f.startsWith("bridge-"))
          : [];
        return files
          .map((f) => `${u.name} ${f}:\n${readFileSync(join(dir, f), "utf8").slice(-2000)}`)
          .join("\n");
      })
      .concat(
        spawnSync("ps", ["-o", "user,pid,etime,args", "-u", `${alice.name},${bob.name}`], {
          encoding: "utf8",
        }).stdout,
      )
      .join("\n");

  /** Pids of the person's supervised bridges. */
  const bridgesOf = (u: TestUser): number[] => {
    const r = spawnSync("pgrep", ["-u", u.name, "-f", "drover.mjs bridge"], { encoding: "utf8" });
    return r.stdout.split("\n").filter(Boolean).map(Number);
  };

  before(async () => {
    db = await freshDatabase();
    sql = db.sql;
    site = mkdtempSync(join(tmpdir(), "drover-site-"));
    install = installForEveryone(ROOT);
    const made = addTestUsers(["alice", "bob"]);
    people = made;
    [alice, bob] = made.users as [TestUser, TestUser];
    if (!slurmSkip) {
      // Slurm's accounting knows them (as a site adds its users), so sacct names them.
      for (const u of made.users) {
        spawnSync("sacctmgr", ["-i", "add", "user", u.name, "account=lab"], { stdio: "ignore" });
      }
    }
    for (const args of [["init"], ["add", alice.name], ["add", bob.name]]) {
      const r = await asRoot(["admin", ...args]);
      assert.equal(r.status, 0, `admin ${args.join(" ")}: ${r.stderr}`);
    }
    nats = await startNats({ config: readFileSync(join(site, "nats-auth.conf"), "utf8") });
    service = await connectBus(nats.url, "functions", {
      credentials: join(site, "functions.credentials.json"),
    });
    const timing = { heartbeatSeconds: 1, missedHeartbeats: 3, sweepSeconds: 1 };
    for (const fn of Object.values(createFunctions(timing))) {
      running.push(await startFunction(fn, { nc: service, sql, log: silentLogger }));
    }
    for (const s of Object.values(services)) {
      running.push(await s.start({ nc: service, sql, log: silentLogger }));
    }
    service.subscribe("ti.*.launched", {
      callback: (_err, m) => {
        const body = m.json<{ instances: { id: number }[] }>();
        launched.push({
          token: m.subject.split(".")[1]!,
          instances: body.instances.map((i) => i.id),
        });
      },
    });
    supervisor = spawn(
      process.execPath,
      [
        join(install.dir, "bin/drover.mjs"),
        "supervisor",
        "--clusters",
        clusters.join(","),
        "--interval",
        "1",
      ],
      {
        env: {
          PATH: process.env.PATH,
          DROVER_NATS_URL: nats.url,
          DROVER_CREDENTIALS: join(site, "supervisor.credentials.json"),
          DROVER_HOME: join(site, "supervisor-home"),
          DROVER_HEARTBEAT_SECONDS: "1",
          DROVER_LOCAL_SLOTS: "4",
          DROVER_SLURM_POLL_SECONDS: "1",
          DROVER_SLURM_MAX_POLL_SECONDS: "2",
          DROVER_LOG_LEVEL: process.env.DEBUG_BRIDGE ? "debug" : "info",
          // Not for the bridges: the supervisor passes on only what they need.
          CANARY_SECRET: "supervisor-canary",
          DROVER_DATABASE_URL: db.url,
        },
      },
    );
    for (const stream of [supervisor.stdout!, supervisor.stderr!]) {
      stream.on("data", (d) => {
        supervisorLog += d;
      });
    }
    // Ready, and (with Slurm) its partitions announced: people may submit to it.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [q] = await sql<{ n: number }[]>`
        select count(*)::int as n from queue q join cluster c on c.id = q.cluster_id
        where c.name = 'slurm'`;
      if (
        supervisorLog.includes("drover supervisor: serving") &&
        (!clusters.includes("slurm") || q!.n > 0)
      )
        break;
      assert.ok(Date.now() < deadline, `the supervisor did not get ready:\n${supervisorLog}`);
      await wait(200);
    }
  });

  after(async () => {
    supervisor?.kill("SIGTERM");
    for (const u of [alice, bob].filter(Boolean)) {
      spawnSync("pkill", ["-KILL", "-u", u.name], { stdio: "ignore" });
      if (!slurmSkip) {
        spawnSync("scancel", ["-u", u.name], { stdio: "ignore" });
        spawnSync("sacctmgr", ["-i", "delete", "user", u.name], { stdio: "ignore" });
      }
    }
    await Promise.allSettled(running.map((r) => r.stop()));
    await service?.close();
    await Promise.allSettled([nats?.stop(), db?.drop()]);
    await wait(500);
    people?.remove();
    install?.remove();
    rmSync(site, { recursive: true, force: true });
  });

  for (const cluster of clusters) {
    test(`alice and bob on ${cluster}: every task runs as its submitter, logs are theirs`, async () => {
      const name = `who-${cluster}`;
      const workflows = await Promise.all([
        submit(alice, name, cluster, 4, 0),
        submit(bob, name, cluster, 3, 0),
      ]);
      await Promise.all(workflows.map((wf) => finished(wf, 240_000)));
      for (const [u, n] of [
        [alice, 4],
        [bob, 3],
      ] as const) {
        const dir = join(u.home, name);
        const outputs = readdirSync(dir);
        assert.equal(outputs.length, n, `${u.name}'s outputs: ${outputs}`);
        for (const file of outputs) {
          assert.equal(readFileSync(join(dir, file), "utf8").trim(), u.name, `${dir}/${file}`);
        }
        const logs = await sql<{ stdout_path: string | null }[]>`
          select i.stdout_path from task_instance i join workflow w on w.id = i.workflow_id
          where w.id = ${workflows[u === alice ? 0 : 1]!}`;
        const uid = Number(execFileSync("id", ["-u", u.name], { encoding: "utf8" }));
        for (const { stdout_path } of logs) {
          assert.ok(stdout_path, "a log path is recorded");
          if (existsSync(stdout_path)) assert.equal(statSync(stdout_path).uid, uid, stdout_path);
        }
        assert.ok(
          logs.some((l) => l.stdout_path && existsSync(l.stdout_path)),
          "logs exist",
        );
      }
      if (cluster === "slurm") {
        const jobs = await sql<{ distributor_id: string; owner: string }[]>`
          select i.distributor_id, w.owner from task_instance i
          join workflow w on w.id = i.workflow_id where w.id in ${sql(workflows)}`;
        for (const job of jobs) {
          // slurmdbd records a job a moment after it ran: the workflow may be DONE first.
          let user = "";
          for (let i = 0; !user; i++) {
            const r = spawnSync(
              "sacct",
              ["-n", "-P", "-X", "-j", job.distributor_id, "--format", "User"],
              { encoding: "utf8" },
            );
            user = r.stdout.trim().split("\n")[0] ?? "";
            assert.ok(user || i < 60, `sacct has no record of job ${job.distributor_id}`);
            if (!user) await wait(500);
          }
          assert.equal(userToken(user), job.owner, `sacct user of job ${job.distributor_id}`);
        }
      }
      // Bob's bridge took none of alice's batches, and hers none of his.
      const owners = new Map(
        (
          await sql<{ id: number; owner: string }[]>`
            select i.id, w.owner from task_instance i join workflow w on w.id = i.workflow_id`
        ).map((r) => [Number(r.id), r.owner]),
      );
      let counted = 0;
      for (const batch of launched) {
        for (const id of batch.instances) {
          counted++;
          assert.equal(owners.get(id), batch.token, `instance ${id} launched by ${batch.token}`);
        }
      }
      assert.ok(counted >= 7, `launched instances counted: ${counted}`);
      assert.ok(
        launched.some((b) => b.token === userToken(bob.name)) &&
          launched.some((b) => b.token === userToken(alice.name)),
        "both bridges launched",
      );
    });
  }

  test("alice's client and bridge are gone mid-run: the supervisor restarts it, the workflow ends DONE", async () => {
    const workflow = await submit(alice, "restart", "local", 6, 3);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const [r] = await sql<{ n: number }[]>`select count(*)::int as n from task
        where workflow_id = ${workflow} and status = 'RUNNING'`;
      if ((r?.n ?? 0) > 0) break;
      assert.ok(Date.now() < deadline, "no task of alice's started");
      await wait(200);
    }
    const before = bridgesOf(alice);
    assert.ok(before.length > 0, "alice has a supervised bridge");
    for (const pid of before) process.kill(pid, "SIGKILL");
    await finished(workflow, 240_000);
    const after = bridgesOf(alice);
    assert.ok(
      after.some((pid) => !before.includes(pid)),
      `a new bridge for alice (before ${before}, after ${after})`,
    );
    const done = await sql<{ task_id: number; n: number }[]>`
      select t.id as task_id, count(i.id)::int as n from task t
      left join task_instance i on i.task_id = t.id and i.status = 'DONE'
      where t.workflow_id = ${workflow} group by t.id`;
    assert.equal(done.length, 6);
    for (const t of done) assert.equal(t.n, 1, `task ${t.task_id}: ${t.n} DONE instances`);
  });

  test("a supervised local bridge still has the kernel stop a command at its memory limit", async () => {
    const spec = join(alice.home, "hog.yaml");
    writeFileSync(
      spec,
      `tool: { name: hog }
workflow: { name: hog, default_cluster: local, default_max_attempts: 1 }
templates:
  - name: hog
    command: "python3 -c 'b = bytearray(400 * 1024 * 1024); import time; time.sleep(5)'"
    resources: { memory: 64M, runtime: 2m }
tasks:
  - { template: hog }
`,
    );
    execFileSync("chown", [`${alice.name}:`, spec]);
    const r = await asPerson(alice, ["submit", spec, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const workflow = Number(JSON.parse(r.stdout).id);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [wf] = await sql<
        { status: string }[]
      >`select status from workflow where id = ${workflow}`;
      if (wf?.status === "FAILED") break;
      assert.ok(Date.now() < deadline, `hog workflow is ${wf?.status}`);
      await wait(300);
    }
    const [attempt] = await sql<{ error_kind: string; error: string }[]>`
      select error_kind, error from task_instance where workflow_id = ${workflow}`;
    assert.equal(attempt?.error_kind, "memory", JSON.stringify(attempt));
    // The kernel's cgroup limit, not the sampler's after-the-fact look.
    assert.match(attempt!.error, /stopped at the limit of its memory cgroup/);
  });
});

/** A subprocess, asynchronously, with its output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<Output> {
  return collectOutput(spawn(command, args, { env, cwd }));
}
