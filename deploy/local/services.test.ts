// deploy/local/services.sh's private Postgres, as `drover up`, the demo and CI get it on a
// machine without one: password-only over TCP with a generated secret kept 0600, in a
// folder of the caller's own that is refused when planted (a symlink, someone else's).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import postgres from "postgres";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("./services.sh", import.meta.url));

/** services.sh with a folder of its own and no reachable Postgres configured. */
function services(dir: string, ...args: string[]) {
  return run("bash", [SCRIPT, ...args], {
    env: {
      ...process.env,
      DROVER_SERVICES_DIR: dir,
      DROVER_SERVICES_ONLY: "postgres",
      // Nothing listens on port 1: the script makes its own.
      DROVER_DATABASE_URL: "postgres://postgres@127.0.0.1:1/drover",
    },
    timeout: 180_000,
  });
}

async function refusal(dir: string): Promise<string> {
  const result = await services(dir, "up").then(
    () => null,
    (err: { code: number; stderr: string }) => err,
  );
  assert.ok(result, `${dir} was accepted`);
  assert.equal(result.code, 1);
  return result.stderr;
}

describe("services.sh's private Postgres", { timeout: 300_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), "drover-services-test-"));
  // Traversable, as /var/tmp is: as root the script runs Postgres as its own user.
  chmodSync(root, 0o711);
  const dir = join(root, "mine");

  after(async () => {
    await services(dir, "down").catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  test("asks for a password over TCP, and the secret is its owner's alone", async () => {
    const { stdout } = await services(dir, "up");
    const url = /^export DROVER_DATABASE_URL=(\S+)$/m.exec(stdout)?.[1];
    assert.ok(url, stdout);
    const parsed = new URL(url);
    const secret = readFileSync(join(dir, "postgres.password"), "utf8");
    assert.match(secret, /^[A-Za-z0-9]{32}$/);
    assert.equal(decodeURIComponent(parsed.password), secret, "the URL carries the secret");

    const withPassword = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await withPassword`select current_user as who`;
      assert.equal(row!.who, "postgres");
    } finally {
      await withPassword.end();
    }
    parsed.password = "";
    const without = postgres(parsed.href, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      await assert.rejects(without`select 1`, /password/i, "no password, no session");
    } finally {
      await without.end();
    }
    const wrong = new URL(url);
    wrong.password = "not-the-secret";
    const guessed = postgres(wrong.href, { max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      await assert.rejects(guessed`select 1`, /password authentication failed/i);
    } finally {
      await guessed.end();
    }

    assert.equal(statSync(join(dir, "postgres.password")).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o066, 0, "nobody else lists or writes the folder");
    assert.equal(statSync(dir).uid, process.getuid!());
  });

  test("a folder that is a symlink is refused, and nothing is written through it", async () => {
    const target = join(root, "target");
    mkdirSync(target);
    const planted = join(root, "planted");
    symlinkSync(target, planted);
    assert.match(await refusal(planted), /is a symlink: refusing it/);
    assert.deepEqual(
      (await run("ls", ["-A", target])).stdout,
      "",
      "nothing written in the symlink's target",
    );
  });

  const notRoot = process.getuid?.() !== 0 && "giving a folder to another user needs root";
  test("a folder of another user is refused", { skip: notRoot }, async () => {
    const theirs = join(root, "theirs");
    mkdirSync(theirs, { mode: 0o777 });
    chownSync(theirs, 65534, 65534); // nobody
    assert.match(await refusal(theirs), /belongs to another user: refusing it/);
  });
});
