import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../core/free-port.ts";

/**
 * A private nats-server with JetStream per test file: a free loopback port and a temp
 * store directory, so no state is shared between files. Needs `nats-server` on the PATH
 * or in /usr/sbin (deploy/local/services.sh installs it).
 */
export { freePort };

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

/**
 * `config`: more of the server's configuration (e.g. an `authorization` block), written
 * after the listen address and JetStream's store.
 */
export async function startNats(options: { config?: string } = {}): Promise<TestNats> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "drover-nats-"));
  const configFile = join(storeDir, "nats.conf");
  if (options.config !== undefined) {
    writeFileSync(
      configFile,
      `listen: "127.0.0.1:${port}"\njetstream: { store_dir: ${JSON.stringify(storeDir)} }\n${options.config}`,
    );
  }
  const args =
    options.config !== undefined
      ? ["-c", configFile]
      : ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir];
  let child: ChildProcess;
  let output = "";
  const launch = async () => {
    output = "";
    child = spawn(binary(), args, {
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
export async function waitForFunctions(
  url: string,
  names: string[],
  ms = 30_000,
  credentials?: string,
): Promise<void> {
  const { connectBus } = await import("../../bus/connect.ts");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const { streamNameFor } = await import("../../bus/contracts.ts");
  const nc = await connectBus(url, "wait-for-functions", { credentials });
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
