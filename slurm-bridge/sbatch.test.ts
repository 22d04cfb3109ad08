import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { LaunchBatch } from "../bus/schemas.ts";
import { AdaptiveInterval } from "./poller.ts";
import {
  batchLabel,
  batchTag,
  classifySbatchError,
  jobTag,
  parseTag,
  sbatchOptions,
  splitParts,
  submitBackoffMs,
  writePart,
} from "./sbatch.ts";

const dir = mkdtempSync(join(tmpdir(), "drover-sbatch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function batch(n: number, steps?: number[]): LaunchBatch {
  return {
    v: 1,
    batch_id: 42,
    workflow_id: 7,
    cluster: "slurm",
    queue: "debug",
    resources: {
      cores: 2,
      memory_bytes: 100 * 1024 ** 2 + 1,
      runtime_seconds: 90,
      project: "proj_a",
    },
    heartbeat_seconds: 30,
    instances: (steps ?? [...Array(n).keys()]).map((step) => ({
      id: 1000 + step,
      task_id: 500 + step,
      step,
      attempt: 1,
      name: `t_${step}`,
      command: `echo 'it''s' ${step}`,
    })),
  };
}

describe("sbatch", () => {
  test("a batch is split where array indices would reach MaxArraySize", () => {
    const parts = splitParts(batch(12).instances, 5);
    assert.deepEqual(
      parts.map((p) => [p.part, p.offset, p.instances.map((i) => i.step)]),
      [
        [0, 0, [0, 1, 2, 3, 4]],
        [1, 5, [5, 6, 7, 8, 9]],
        [2, 10, [10, 11]],
      ],
    );
    assert.equal(splitParts(batch(12).instances, 1001).length, 1);
    // Gaps (instances skipped by launch) do not create empty parts.
    const gappy = splitParts(batch(0, [0, 1, 11, 12]).instances, 5);
    assert.deepEqual(
      gappy.map((p) => [p.part, p.offset]),
      [
        [0, 0],
        [1, 10],
      ],
    );
  });

  test("resources map to sbatch options; memory and time round up", () => {
    const b = batch(1);
    const opts = sbatchOptions(b, "drvx-b42-0", {
      dir: "/j",
      manifest: "/j/m.json",
      script: "/j/s.sh",
      slurmOutput: () => "",
    });
    assert.deepEqual(opts, [
      "--job-name=drvx-b42-0",
      "--partition=debug",
      "--mem=101M",
      "--time=2",
      "--cpus-per-task=2",
      "--account=proj_a",
      "--ntasks=1",
      "--no-requeue",
      "--output=/j/slurm-%A_%a.out",
    ]);
  });

  test("1 TiB, 30 days and 256 cores: --mem in MiB, --time in minutes, --cpus-per-task", () => {
    const b = batch(1);
    b.resources = { cores: 256, memory_bytes: 1024 ** 4, runtime_seconds: 30 * 86400 };
    // Through the message schema, as the bridge receives it.
    const received = LaunchBatch.parse(JSON.parse(JSON.stringify(b)));
    const opts = sbatchOptions(received, "drvx-b42-0", {
      dir: "/j",
      manifest: "/j/m.json",
      script: "/j/s.sh",
      slurmOutput: () => "",
    });
    assert.deepEqual(opts.slice(2, 5), ["--mem=1048576M", "--time=43200", "--cpus-per-task=256"]);
    assert.ok(!opts.some((o) => o.startsWith("--account")), "no project, no account");
  });

  test("the part's files: manifest with array indices, script running the worker", () => {
    const b = batch(12);
    const [, second] = splitParts(b.instances, 5);
    const written = writePart(b, second!, {
      jobsDir: join(dir, "jobs"),
      logDir: join(dir, "logs"),
      owner: "tester",
      natsUrl: "nats://10.0.0.1:4222",
      tagPrefix: "drvtest",
      node: "/usr/bin/node",
      worker: "/opt/drover's/dist/drover-worker.mjs",
    });
    assert.equal(written.tag, "drvtest-b42-1");
    assert.equal(written.array, "0-4");
    const m = JSON.parse(readFileSync(written.files.manifest, "utf8"));
    assert.equal(m.signal_deaths, "bridge");
    assert.equal(m.nats_url, "nats://10.0.0.1:4222");
    assert.deepEqual(
      m.instances.map((i: { id: number; step: number }) => [i.id, i.step]),
      [
        [1005, 0],
        [1006, 1],
        [1007, 2],
        [1008, 3],
        [1009, 4],
      ],
    );
    assert.equal(m.instances[0].stdout, join(dir, "logs", "7", "t_5.1005.out"));
    const script = readFileSync(written.files.script, "utf8");
    assert.match(script, /^#!\/bin\/bash\n/);
    assert.match(script, /^#SBATCH --job-name=drvtest-b42-1$/m);
    assert.match(script, /^#SBATCH --mem=101M$/m);
    assert.ok(
      script.includes(
        `exec '/usr/bin/node' '/opt/drover'\\''s/dist/drover-worker.mjs' --manifest '${written.files.manifest}'`,
      ),
      script,
    );
  });

  test("tags parse back only for their own prefix", () => {
    assert.equal(jobTag("drvab", 12, 0), "drvab-b12-0");
    assert.deepEqual(parseTag("drvab", "drvab-b12-3"), { batchId: 12, part: 3 });
    assert.equal(parseTag("drvab", "drvabc-b12-3"), undefined);
    assert.equal(parseTag("drvab", "other"), undefined);
  });

  test("job names a person can read: workflow and template, unique per batch and part", () => {
    const b = { ...batch(12), template: "prep model/v2" };
    assert.equal(batchLabel(b), "w7-prep_model_v2");
    assert.equal(batchTag("drvab", b, 1), "drvab-w7-prep_model_v2-b42-1");
    assert.equal(jobTag("drvab", 12, 0, "w3-agg"), "drvab-w3-agg-b12-0");
    // Both forms parse back (jobs named before labels are adopted after an upgrade),
    // whatever dashes and b-numbers the template holds.
    assert.deepEqual(parseTag("drvab", "drvab-w7-prep_model_v2-b42-1"), { batchId: 42, part: 1 });
    assert.deepEqual(parseTag("drvab", "drvab-w7-x-b5-2-b42-1"), { batchId: 42, part: 1 });
    assert.equal(parseTag("drvab", "drvabc-w7-prep-b42-1"), undefined);
    assert.equal(parseTag("drvab", "drvab-w7 prep-b42-1"), undefined);
    // A launch message without a template (an older version) keeps the old name.
    assert.equal(batchTag("drvab", batch(1), 0), "drvab-b42-0");
    const written = writePart(b, splitParts(b.instances, 5)[0]!, {
      jobsDir: join(dir, "jobs-labelled"),
      logDir: join(dir, "logs"),
      owner: "tester",
      natsUrl: "nats://10.0.0.1:4222",
      tagPrefix: "drvtest",
      node: "/usr/bin/node",
      worker: "/opt/drover/dist/drover-worker.mjs",
    });
    assert.match(
      readFileSync(written.files.script, "utf8"),
      /^#SBATCH --job-name=drvtest-w7-prep_model_v2-b42-0$/m,
    );
  });

  test("sbatch errors: transient ones are retried, refusals are not", () => {
    assert.equal(
      classifySbatchError(
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
      ),
      "transient",
    );
    assert.equal(
      classifySbatchError(
        "sbatch: error: QOSMaxSubmitJobPerUserLimit\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's size and/or time limits)",
      ),
      "transient",
    );
    assert.equal(
      classifySbatchError("sbatch: error: Unable to contact slurm controller (connect failure)"),
      "transient",
    );
    assert.equal(
      classifySbatchError(
        "sbatch: error: Batch job submission failed: Invalid partition name specified",
      ),
      "permanent",
    );
    assert.equal(
      classifySbatchError(
        "sbatch: error: Memory specification can not be satisfied\nsbatch: error: Batch job submission failed: Requested node configuration is not available",
      ),
      "permanent",
    );
    assert.equal(classifySbatchError("something new"), "unknown");
  });

  test("backoff: capped, jittered, growing", () => {
    for (let attempt = 1; attempt <= 20; attempt++) {
      const ms = submitBackoffMs(attempt, 1000, 60_000);
      const raw = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      assert.ok(ms >= raw * 0.75 && ms <= raw * 1.25, `${attempt}: ${ms}`);
    }
  });

  test("the poll interval backs off while quiet and resets on activity", () => {
    const i = new AdaptiveInterval(2000, 60_000);
    const seen = [i.ms];
    for (let k = 0; k < 12; k++) {
      i.quiet();
      seen.push(i.ms);
    }
    assert.deepEqual(seen.slice(0, 4), [2000, 3000, 4500, 6750]);
    assert.equal(seen.at(-1), 60_000);
    i.activity();
    assert.equal(i.ms, 2000);
  });
});

describe("job scripts from hostile input", () => {
  const options = {
    jobsDir: join(dir, "jobs-hostile"),
    logDir: join(dir, "logs-hostile"),
    natsUrl: "nats://10.0.0.1:4222",
    owner: "tester",
    tagPrefix: "drvtest",
    node: "/usr/bin/node",
    worker: "/opt/drover/dist/drover-worker.mjs",
  };
  const NASTY = [
    "x\n#SBATCH --qos=high",
    "x\nrm -rf ~",
    "x'y",
    'x"y',
    "$(id)",
    "x y",
    "x;y",
    "\u0000",
    "",
    "a".repeat(65),
  ];

  test("a queue or project that could add a line is refused, and no script is written", () => {
    for (const value of NASTY) {
      for (const where of ["queue", "project"] as const) {
        const b = batch(2);
        if (where === "queue") b.queue = value;
        else b.resources.project = value;
        const [part] = splitParts(b.instances, 1000);
        assert.throws(
          () => writePart({ ...b, batch_id: 900 + NASTY.indexOf(value) }, part!, options),
          (err: Error) => err.name === "SbatchRefused" && /is not allowed/.test(err.message),
          `${where} ${JSON.stringify(value)}`,
        );
      }
    }
  });

  test("any accepted input gives a script whose #SBATCH lines are exactly the options meant", () => {
    // Accepted values, and commands and names that hold anything (they go to the
    // manifest, JSON, never into the script).
    const queues = ["debug", "long.q", "gpu-a100", "p+1", "A_b.c-d+e"];
    const projects = [undefined, "proj_a", "ihme.gbd-2026"];
    const commands = ["echo ok", "x\n#SBATCH --qos=high", "$(rm -rf ~)", "'\"`", "\u2028 line"];
    let n = 0;
    for (const queue of queues) {
      for (const project of projects) {
        const b = batch(3);
        b.batch_id = 2000 + n++;
        b.queue = queue;
        if (project === undefined) delete b.resources.project;
        else b.resources.project = project;
        b.instances = b.instances.map((inst, k) => ({
          ...inst,
          command: commands[(k + n) % commands.length]!,
          name: `t_${k}\n#SBATCH --x`,
        }));
        const [part] = splitParts(b.instances, 1000);
        const written = writePart(b, part!, options);
        const script = readFileSync(written.files.script, "utf8").split("\n");
        const meant = sbatchOptions(b, written.tag, written.files).map((o) => `#SBATCH ${o}`);
        assert.deepEqual(
          script.filter((l) => l.startsWith("#SBATCH")),
          meant,
        );
        // Nothing but the shebang, comments and the one exec line.
        const code = script.filter((l) => l !== "" && !l.startsWith("#"));
        assert.equal(code.length, 1, script.join("\n"));
        assert.match(code[0]!, /^exec '\/usr\/bin\/node' '[^']+' --manifest '[^']+'$/);
        assert.ok(meant.some((l) => l === `#SBATCH --partition=${queue}`));
      }
    }
  });
});

test("sbatch sees only what a Slurm client needs, under umask 077", async () => {
  const { sbatchEnv } = await import("./commands.ts");
  assert.deepEqual(
    sbatchEnv({
      PATH: "/usr/bin",
      LC_ALL: "C",
      SBATCH_ACCOUNT: "a",
      DROVER_DATABASE_URL: "postgres://d:pw@h/d",
      CANARY_SECRET: "x",
      PGPASSWORD: "x",
    }),
    { PATH: "/usr/bin", LC_ALL: "C", SBATCH_ACCOUNT: "a", SLURM_UMASK: "0077" },
  );
});
