import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { connectBus } from "../bus/connect.ts";
import {
  type Credentials,
  newCredentials,
  readCredentials,
  writeCredentials,
} from "../bus/credentials.ts";
import { natsUserOf, serverConfig } from "../bus/nats-config.ts";
import { freePort } from "../core/free-port.ts";
import { localUserToken } from "../core/identity.ts";
import { SERVICES_SCRIPT } from "../core/package-root.ts";
import { privateDir, writePrivateFile } from "../core/private-files.ts";

/**
 * A personal stack's own NATS, authenticated like a site's (one code path): `drover up`
 * makes credentials for its functions and GUI (under `<home>/nats/`) and for its one
 * user (`<home>/credentials.json`, where every client of theirs finds it; an admin of
 * their own stack), writes the server's configuration with those users' public keys,
 * and starts nats-server on a free loopback port. Kept across `drover up`s (its store,
 * its credentials), stopped by `drover down`.
 */

export interface PersonalNats {
  url: string;
  /** what the functions and the GUI connect with */
  serviceCredentials: string;
  /** the user's own (their bridges and clients) */
  userCredentials: string;
}

function paths(home: string) {
  const dir = join(home, "nats");
  return {
    dir,
    store: join(dir, "store"),
    config: join(dir, "nats.conf"),
    pid: join(dir, "nats.pid"),
    port: join(dir, "port"),
    log: join(dir, "nats.log"),
    functions: join(dir, "functions.credentials.json"),
    user: join(home, "credentials.json"),
  };
}

function credentialsAt(path: string, make: () => Credentials): Credentials {
  if (existsSync(path)) return readCredentials(path);
  const made = make();
  writeCredentials(path, made);
  return made;
}

function alivePid(pidFile: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

function natsBinary(): string {
  const r = spawnSync("bash", [SERVICES_SCRIPT, "nats-bin"], {
    encoding: "utf8",
  });
  const bin = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || bin === "") {
    throw new Error(`nats-server is not installed and could not be: ${r.stderr.trim()}`);
  }
  return bin;
}

/** The personal NATS, started unless it runs already. */
export async function ensurePersonalNats(home: string): Promise<PersonalNats> {
  const p = paths(home);
  privateDir(p.dir);
  const functions = credentialsAt(p.functions, () =>
    newCredentials("drover-functions", "drover-functions", "function"),
  );
  const name = userInfo().username;
  const user = credentialsAt(p.user, () => newCredentials(name, localUserToken(), "admin"));
  const result = {
    serviceCredentials: p.functions,
    userCredentials: p.user,
  };
  const running = alivePid(p.pid);
  if (running !== undefined && existsSync(p.port)) {
    return { ...result, url: `nats://127.0.0.1:${readFileSync(p.port, "utf8").trim()}` };
  }
  const port = await freePort();
  writePrivateFile(
    p.config,
    serverConfig({
      host: "127.0.0.1",
      port,
      storeDir: p.store,
      users: [natsUserOf(functions), natsUserOf(user)],
    }),
  );
  writePrivateFile(p.port, `${port}\n`);
  // Its store, log and pid file are the owner's only: the server inherits this umask.
  const bin = natsBinary();
  const umask = process.umask(0o077);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(bin, ["-c", p.config, "-P", p.pid, "-l", p.log], {
      detached: true,
      stdio: "ignore",
    });
  } finally {
    process.umask(umask);
  }
  child.unref();
  const url = `nats://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const nc = await connectBus(url, "drover-up-check", {
        reconnect: false,
        timeoutMs: 1000,
        credentials: functions,
      });
      await nc.close();
      return { ...result, url };
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(
          `the personal NATS did not start (see ${p.log}): ${(err as Error).message}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Stops the personal NATS, if it runs (its store and credentials are kept). */
export async function stopPersonalNats(home: string): Promise<boolean> {
  const pid = alivePid(paths(home).pid);
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.kill(pid, "SIGKILL");
  return true;
}
