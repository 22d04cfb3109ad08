// The CLI as users run it, a subprocess, against a stack that `drover up` starts in a home
// of the test's own, with private Postgres and NATS (the configured URLs point nowhere).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStackFile } from "../../cli/stack-file.ts";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliStack {
  /** a scratch folder for spec files; removed by down() */
  home: string;
  databaseUrl: string;
  /** runs `drover ARGS`, finding the stack through its file */
  drover(args: string[]): CliResult;
  /** starts `drover ARGS` without waiting for it (a command that follows something) */
  start(args: string[]): ChildProcess;
  down(): void;
}

/** `settings`: more environment for the stack (its bridge's slots…) and every command. */
export function cliStackUp(prefix: string, settings: Record<string, string> = {}): CliStack {
  const home = mkdtempSync(join(tmpdir(), prefix));
  // Not under the home (0700): the private Postgres runs as the postgres user.
  const services = mkdtempSync(join(tmpdir(), `${prefix}services-`));
  const env = {
    ...process.env,
    DROVER_HOME: home,
    DROVER_SERVICES_DIR: services,
    DROVER_NATS_URL: "nats://127.0.0.1:1",
    DROVER_DATABASE_URL: "postgres://postgres@127.0.0.1:1/drover",
    DROVER_LOG_LEVEL: "warn",
    ...settings,
  };
  const run = (args: string[], extra: Record<string, string> = {}): CliResult => {
    const r = spawnSync(process.execPath, ["bin/drover.mjs", ...args], {
      env: { ...env, ...extra },
      encoding: "utf8",
      timeout: 120_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const up = run(["up", "--json"]);
  assert.equal(up.code, 0, up.stderr);
  return {
    home,
    // The stack file's: what `up` prints hides the private Postgres's password.
    databaseUrl: readStackFile(home)!.databaseUrl,
    drover: (args) => run(args, { DROVER_NATS_URL: "", DROVER_DATABASE_URL: "" }),
    start: (args) =>
      spawn(process.execPath, ["bin/drover.mjs", ...args], {
        env: { ...env, DROVER_NATS_URL: "", DROVER_DATABASE_URL: "" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    down() {
      const down = run(["down", "--json"]);
      rmSync(home, { recursive: true, force: true });
      rmSync(services, { recursive: true, force: true });
      assert.equal(down.code, 0, down.stderr);
    },
  };
}

export function json(r: { stdout: string }): Record<string, unknown> {
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
