#!/usr/bin/env node
// Patches a dependency bug that upstream has not released a fix for; run on install
// (postinstall) and in the image (the Dockerfile installs with --ignore-scripts).
//
// postgres.js 3.4.9 (porsager/postgres#1154, #1208; fixes proposed in #1168, #1209):
// a write queued on a connection whose socket has closed (Postgres restarted, a backend
// terminated) runs from a setImmediate and dereferences the null socket. The TypeError
// escapes every try/catch and kills the process: a Postgres restart took down Drover
// functions (test/postgres-restart.test.ts). Teardown also cancels the queued write
// without forgetting it, so the next connection on that slot would send stale bytes.
// The patch: a write with no socket rejects what waits on the connection
// (CONNECTION_CLOSED, which callers retry) instead of throwing; teardown forgets the
// queued write. Idempotent; fails loudly when the file no longer has the expected shape
// (a new version: check whether the fix is in it, then drop this).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MARK = "/* drover: null-socket guard */";

const replacements = [
  [
    "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
    `  function nextWrite(fn) {\n    ${MARK}\n    if (socket === null) {\n      nextWriteTimer !== null && clearImmediate(nextWriteTimer)\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options, socket))\n      return false\n    }\n    const x = socket.write(chunk, fn)`,
  ],
  [
    "    clearImmediate(nextWriteTimer)\n    if (socket) {",
    "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {",
  ],
  [
    "    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)",
    "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener('data', data)",
  ],
];

export function patchPostgres(file) {
  const text = readFileSync(file, "utf8");
  if (text.includes(MARK)) return "already patched";
  let out = text;
  for (const [from, to] of replacements) {
    if (out.split(from).length !== 2) {
      throw new Error(`${file}: unexpected shape near ${JSON.stringify(from.slice(0, 40))}`);
    }
    out = out.replace(from, to);
  }
  writeFileSync(file, out);
  return "patched";
}

/**
 * The postgres package Drover loads, found as Node finds it: in a checkout or a global
 * install under Drover's own node_modules, in a project's install hoisted above it.
 */
function postgresFolder() {
  for (let dir = root; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", "postgres");
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`postgres is not installed for ${root}`);
  }
}

const folder = postgresFolder();
const pkg = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
if (pkg.version !== "3.4.9") {
  throw new Error(
    `postgres ${pkg.version}: scripts/patch-deps.mjs patches 3.4.9 only; check upstream for the null-socket fix`,
  );
}
for (const variant of ["src", "cjs/src"]) {
  const file = join(folder, variant, "connection.js");
  console.error(`postgres ${variant}/connection.js: ${patchPostgres(file)}`);
}
