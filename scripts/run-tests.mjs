#!/usr/bin/env node
// Runs every *.test.ts file tracked (or added) in the repository with node:test under tsx.
// Node 20's --test neither expands globs nor finds .ts files, so the list is passed
// explicitly; a run that executed zero tests fails.
import { execFileSync, spawn } from "node:child_process";

const only = process.argv.slice(2);
const listed = execFileSync(
  "git",
  ["ls-files", "--cached", "--others", "--exclude-standard", "*.test.ts"],
  {
    encoding: "utf8",
  },
)
  .split("\n")
  .filter(Boolean);
const files = only.length > 0 ? only : listed;
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}

// The tests talk to a real Postgres and NATS: make sure both answer (starting private
// ones when needed) and hand their URLs to every test process.
const services = execFileSync("bash", ["deploy/local/services.sh", "up"], {
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
for (const line of services.split("\n")) {
  const match = /^export (DROVER_[A-Z_]+)=(.*)$/.exec(line.trim());
  if (match) process.env[match[1]] = match[2];
}

const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=./scripts/count-reporter.mjs",
    "--test-reporter-destination=stderr",
    "--test-concurrency=2",
    // A file whose setup failed may leave a connection open: it must not hang the run.
    "--test-force-exit",
    "--test-timeout=600000",
    ...files,
  ],
  { stdio: ["ignore", "inherit", "inherit"] },
);
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
