// `drover up --foreground` (SPEC.md §2): the stack stays attached to its terminal, other
// drover commands find it through its stack file, and Ctrl-C stops it cleanly: exit 0,
// stack file gone. Ctrl-C on a terminal sends SIGINT to the whole foreground process
// group, so the test starts drover as a job of its own group and signals the group.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { freePort } from "./helpers/nats.ts";

test("up --foreground: attached, found by other commands, stopped by Ctrl-C", {
  timeout: 180_000,
}, async () => {
  const home = mkdtempSync(join(tmpdir(), "drover-fg-"));
  const env = {
    ...process.env,
    DROVER_HOME: home,
    DROVER_GUI_PORT: String(await freePort()),
    DROVER_LOG_LEVEL: "warn",
  };
  const stack = spawn(process.execPath, ["bin/drover.mjs", "up", "--foreground"], {
    env,
    stdio: "ignore",
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => stack.once("exit", resolve));
  try {
    const stackFile = join(home, "stack.json");
    const deadline = Date.now() + 90_000;
    while (!existsSync(stackFile)) {
      assert.equal(stack.exitCode, null, "the stack exited while starting");
      assert.ok(Date.now() < deadline, "the stack did not write its file");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Another shell: only DROVER_HOME tells it where the stack is.
    const spec = join(home, "one.yaml");
    writeFileSync(
      spec,
      `tool: { name: fg_test }
workflow: { name: foreground, default_cluster: local }
templates:
  - { name: hello, command: "echo hello" }
tasks:
  - { template: hello }
`,
    );
    const submitted = spawnSync(
      process.execPath,
      ["bin/drover.mjs", "submit", spec, "--wait", "--json"],
      {
        env: { ...env, DROVER_NATS_URL: "", DROVER_DATABASE_URL: "" },
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    assert.equal(submitted.status, 0, submitted.stderr);
    assert.equal(JSON.parse(submitted.stdout).status, "DONE");

    process.kill(-stack.pid!, "SIGINT");
    assert.equal(await exited, 0);
    assert.equal(existsSync(stackFile), false, "the stack file is removed");
  } finally {
    try {
      process.kill(-stack.pid!, "SIGKILL");
    } catch {
      // the group is gone
    }
    rmSync(home, { recursive: true, force: true });
  }
});
