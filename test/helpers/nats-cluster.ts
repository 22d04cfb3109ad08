// A 3-server JetStream cluster on loopback for tests: each server its own client port,
// route port and store directory, routes to all; any server can be SIGKILLed and started
// again on the same ports and store, as a node that crashes and comes back.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connectBus } from "../../bus/connect.ts";
import { freePort } from "./nats.ts";

export interface ClusterServer {
  name: string;
  url: string;
  alive(): boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
  output(): string;
}

export interface TestNatsCluster {
  /** every server's URL, comma-separated (DROVER_NATS_URL) */
  url: string;
  servers: ClusterServer[];
  byName(name: string): ClusterServer;
  /** resolves once JetStream answers with a metadata leader */
  ready(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

const binary = () => process.env.NATS_SERVER_BIN ?? "nats-server";

export async function startNatsCluster(size = 3): Promise<TestNatsCluster> {
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((r) => `nats://127.0.0.1:${r}`).join(",");
  const servers = ports.map((port, i) => {
    const name = `n${i + 1}`;
    const dir = mkdtempSync(join(tmpdir(), `drover-nats-${name}-`));
    let child: ChildProcess | undefined;
    let out = "";
    const launch = async () => {
      out = "";
      const c = spawn(
        binary(),
        [
          ...["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir, "-n", name],
          ...["--cluster_name", "drover-test", "--cluster", `nats://127.0.0.1:${routePorts[i]}`],
          ...["--routes", routes],
        ],
        {
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/usr/local/sbin` },
        },
      );
      child = c;
      c.stdout?.on("data", (d) => {
        out += d;
      });
      c.stderr?.on("data", (d) => {
        out += d;
      });
      const deadline = Date.now() + 20_000;
      while (!out.includes("Server is ready")) {
        if (c.exitCode !== null) throw new Error(`nats-server ${name} exited: ${out}`);
        if (Date.now() > deadline) throw new Error(`nats-server ${name} did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 30));
      }
    };
    const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
    const server: ClusterServer & { dir: string } = {
      name,
      dir,
      url: `nats://127.0.0.1:${port}`,
      alive,
      output: () => out,
      restart: launch,
      async kill() {
        if (!child || !alive()) return;
        const c = child;
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGKILL");
        await exited;
      },
    };
    return server;
  });
  await Promise.all(servers.map((s) => s.restart()));
  const url = servers.map((s) => s.url).join(",");
  return {
    url,
    servers,
    byName(name) {
      const found = servers.find((s) => s.name === name);
      if (!found) throw new Error(`no server ${name}`);
      return found;
    },
    async ready(ms = 60_000) {
      const nc = await connectBus(url, "cluster-ready");
      try {
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        const deadline = Date.now() + ms;
        for (;;) {
          try {
            await jsm.getAccountInfo();
            return;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      } finally {
        await nc.close();
      }
    },
    async stop() {
      await Promise.all(servers.map((s) => s.kill()));
      for (const s of servers) rmSync(s.dir, { recursive: true, force: true });
    },
  };
}

/** The server leading most of the given streams (a stream's leader takes its writes). */
export async function busiestLeader(jsm: JetStreamManager, streams: string[]): Promise<string> {
  const count = new Map<string, number>();
  for (const name of streams) {
    const leader = (await jsm.streams.info(name)).cluster?.leader;
    if (leader) count.set(leader, (count.get(leader) ?? 0) + 1);
  }
  const [best] = [...count].sort((a, b) => b[1] - a[1]);
  if (!best) throw new Error("no stream has a leader");
  return best[0];
}
