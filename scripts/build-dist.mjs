#!/usr/bin/env node
// Builds the JavaScript that an installed Drover runs (`npm run build`, and `npm pack`'s
// prepack): every product module compiled from TypeScript into dist/ (same layout, with
// type declarations for `drover/client`), and the worker bundle that Slurm jobs start.
// A checkout runs its sources through tsx and does not need it.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const started = performance.now();
rmSync(join(root, "dist"), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
execFileSync(process.execPath, [join(root, "scripts", "build-worker.mjs")], {
  cwd: root,
  stdio: "inherit",
});
console.log(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
