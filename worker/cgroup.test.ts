// Memory limits held by the kernel: a command grabbing memory faster than any sampler
// looks is stopped at its limit, whole, and leaves no group behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { MemoryCgroups } from "./cgroup.ts";
import { MemorySampler } from "./proc.ts";
import { runCommand } from "./run-command.ts";

const MiB = 1024 * 1024;
const found = MemoryCgroups.detect({ releaseRetryMs: 200 });
const groups = found instanceof MemoryCgroups ? found : undefined;
const dir = mkdtempSync(join(tmpdir(), "drover-cgroup-"));
// The bridge's sampler (with a cgroup it only watches the group's state), and one that
// never looks within a test, to show what sampling alone misses.
const sampler = new MemorySampler(250);
const blind = new MemorySampler(600_000);

after(() => {
  groups?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Fills `mib` MiB within a few milliseconds, then exits 0. */
const burst = (mib: number) =>
  `node -e "Buffer.alloc(${mib} * 1024 * 1024, 1); console.log('filled')"`;

let runs = 0;

function run(command: string, limitBytes: number, caged: boolean, name = `ti-${++runs}`) {
  return runCommand({
    command,
    stdout: join(dir, "out"),
    stderr: join(dir, "err"),
    env: process.env,
    memoryLimitBytes: limitBytes,
    sampler: caged ? sampler : blind,
    ...(caged && groups ? { cage: groups.cage(name, limitBytes) } : {}),
  }).done;
}

test("no cgroup hierarchy where none is mounted: the reason is given", () => {
  const none = MemoryCgroups.detect({ mountRoot: join(dir, "nothing"), selfCgroup: "0::/\n" });
  assert.ok(!(none instanceof MemoryCgroups));
  assert.match(none.unavailable, /no memory cgroup hierarchy is mounted/);
});

test("cgroup v2 without the memory controller delegated: the reason says so, no process moves", () => {
  const mount = join(dir, "v2");
  mkdirSync(join(mount, "svc"), { recursive: true });
  writeFileSync(join(mount, "cgroup.controllers"), "cpu io memory pids\n");
  writeFileSync(join(mount, "svc", "cgroup.controllers"), "cpu io pids\n");
  writeFileSync(join(mount, "svc", "cgroup.subtree_control"), "\n");
  const none = MemoryCgroups.detect({ mountRoot: mount, selfCgroup: "0::/svc\n" });
  assert.ok(!(none instanceof MemoryCgroups));
  assert.match(none.unavailable, /memory controller is not delegated.*Delegate=memory/);
  assert.equal(existsSync(join(mount, "svc", "runner")), false);
});

describe(`memory cgroups (${groups ? `v${groups.version} at ${groups.root}` : "unavailable"})`, {
  skip: groups ? false : `no memory cgroup here: ${(found as { unavailable: string }).unavailable}`,
}, () => {
  test("a burst past the limit is stopped as a memory error, and the command ends whole", async () => {
    const outcome = await run(`${burst(300)}; echo survived`, 100 * MiB, true);
    assert.equal(outcome.stoppedFor, "memory");
    assert.match(outcome.stopDetail ?? "", /memory cgroup/);
    assert.ok(outcome.peakMemoryBytes! >= 100 * MiB, `peak ${outcome.peakMemoryBytes}`);
    // Killed whole: the shell never went on to its next command.
    assert.equal(readFileSync(join(dir, "out"), "utf8"), "");
  });

  test("the same burst goes unnoticed by a sampler that does not look in time", async () => {
    // What the cgroup is for: without it this command exceeds its limit and gets away.
    const outcome = await run(burst(300), 100 * MiB, false);
    assert.equal(outcome.stoppedFor, undefined);
    assert.equal(outcome.exitCode, 0);
  });

  test("a command within its limit runs as usual, and its group is removed", async () => {
    const outcome = await run(burst(20), 100 * MiB, true, "ti-within");
    assert.equal(outcome.exitCode, 0);
    assert.equal(outcome.stoppedFor, undefined);
    assert.equal(readFileSync(join(dir, "out"), "utf8"), "filled\n");
    assert.equal(existsSync(join(groups!.root, "ti-within")), false);
  });

  test("the groups of a runner that died are emptied and removed by the next one", async () => {
    // A runner SIGKILLed with a command still running: a sleeper in its group.
    const stale = join(dirname(groups!.root), "drover-2147483000");
    mkdirSync(join(stale, "ti-1"), { recursive: true });
    const sleeper = spawn(
      "/bin/sh",
      ["-c", 'echo $$ > "$1"; exec sleep 300', "x", join(stale, "ti-1", "cgroup.procs")],
      {
        stdio: "ignore",
      },
    );
    const exited = new Promise((resolve) =>
      sleeper.once("exit", (_code, signal) => resolve(signal)),
    );
    await new Promise((r) => setTimeout(r, 200));
    const again = MemoryCgroups.detect();
    assert.ok(again instanceof MemoryCgroups);
    assert.equal(await exited, "SIGKILL");
    assert.equal(existsSync(stale), false);
  });
});
