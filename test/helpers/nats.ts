import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A private nats-server with JetStream per test file: a free loopback port and a temp
 * store directory, so no state is shared between files. Needs `nats-server` on the PATH
 * or in /usr/sbin (deploy/local/services.sh installs it).
 */
export interface TestNats {
  url: string;
  port: number;
  storeDir: string;
  /** SIGKILLs the server (to test NATS restarts) */
  kill(): Promise<void>;
  /** starts it again on the same port and store */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function binary(): string {
  return process.env.NATS_SERVER_BIN ?? "nats-server";
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited: ${log()}`);
    if (log().includes("Server is ready")) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`nats-server did not start on ${port}: ${log()}`);
}

export async function startNats(): Promise<TestNats> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "drover-nats-"));
  let child: ChildProcess;
  let output = "";
  const launch = async () => {
    output = "";
    child = spawn(binary(), ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/local/sbin` },
    });
    child.stdout?.on("data", (d) => {
      output += d;
    });
    child.stderr?.on("data", (d) => {
      output += d;
    });
    await waitForPort(port, child, () => output);
  };
  await launch();
  const killWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    kill: () => killWith("SIGKILL"),
    restart: launch,
    async stop() {
      await killWith("SIGTERM");
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Waits until a function's durable consumer exists (its process has started). */
export async function waitForFunctions(url: string, names: string[], ms = 30_000): Promise<void> {
  const { connectBus } = await import("../../bus/connect.ts");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const { streamNameFor } = await import("../../bus/subjects.ts");
  const nc = await connectBus(url, "wait-for-functions");
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + ms;
    for (const name of names) {
      for (;;) {
        const ok = await jsm.consumers.info(streamNameFor(name), name).then(
          () => true,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`function ${name} did not start`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}
