// A private Postgres server for tests that stop and start it (as deploy/local/services.sh
// makes one): initdb into a temp directory, run as the postgres user when we are root
// (Postgres refuses root), on a free loopback port, trust authentication.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectMaintenance } from "../../store/connect.ts";
import { freePort } from "./nats.ts";

export interface PrivatePostgres {
  /** URL of its `drover` database */
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** stops it and removes its files */
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql");
  return join(root, versions[0]!, "bin");
}

const isRoot = () => process.getuid?.() === 0;

function asPostgres(program: string, args: string[], cwd: string): void {
  const [cmd, argv] = isRoot()
    ? ["runuser", ["-u", "postgres", "--", program, ...args]]
    : [program, args];
  execFileSync(cmd as string, argv as string[], { cwd, stdio: ["ignore", "pipe", "pipe"] });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const root = mkdtempSync(join(tmpdir(), "drover-pg-"));
  chmodSync(root, 0o755);
  if (isRoot()) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(root, uid, gid);
  }
  const data = join(root, "data");
  const log = join(root, "postgres.log");
  asPostgres(
    join(bin, "initdb"),
    ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
    root,
  );
  const port = await freePort();
  const conf = join(data, "postgresql.auto.conf");
  writeFileSync(
    conf,
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${data}'`,
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
      "max_connections = 200",
      "",
    ].join("\n"),
  );
  if (isRoot()) execFileSync("chown", ["postgres:", conf]);
  const pgCtl = (...args: string[]) => asPostgres(join(bin, "pg_ctl"), ["-D", data, ...args], root);
  const start = async () => pgCtl("-l", log, "-w", "-t", "60", "-s", "start");
  await start();
  const base = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = await connectMaintenance(base, "drover-test-admin");
  try {
    await admin.unsafe("create database drover");
  } finally {
    await admin.end();
  }
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/drover`,
    start,
    async stop() {
      // fast: every session is cut at once, as when the server goes down under them.
      pgCtl("-m", "fast", "-w", "-t", "60", "-s", "stop");
    },
    async destroy() {
      if (stopped) return;
      stopped = true;
      try {
        pgCtl("-m", "immediate", "-w", "-t", "60", "-s", "stop");
      } catch {
        // not running
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
