import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

// The CLI as users run it: a connection error names the URL, never its password.
test("a CLI error quoting a URL hides its password, on stderr and in --json", () => {
  const home = mkdtempSync(join(tmpdir(), "drover-redact-"));
  try {
    const r = spawnSync(process.execPath, ["bin/drover.mjs", "status", "1", "--json"], {
      env: {
        PATH: process.env.PATH,
        DROVER_HOME: home,
        DROVER_NATS_URL: "nats://drover:pw-canary-9@127.0.0.1:1",
        DROVER_DATABASE_URL: "postgres://drover:pw-canary-9@127.0.0.1:1/drover",
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nats:\/\/drover:\*\*\*@127\.0\.0\.1:1/);
    assert.ok(!r.stderr.includes("pw-canary-9"), r.stderr);
    assert.ok(!r.stdout.includes("pw-canary-9"), r.stdout);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
