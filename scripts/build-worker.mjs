#!/usr/bin/env node
// Bundles the worker wrapper (worker/main.ts) and everything it imports into ONE
// self-contained ES module, so that a Slurm array element starts it with plain `node`:
// no TypeScript compile, no module resolution, no node_modules on the compute node.
//
//   node scripts/build-worker.mjs [--outfile dist/drover-worker.mjs]
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: { outfile: { type: "string", default: join(root, "dist", "drover-worker.mjs") } },
});

const started = performance.now();
const result = await build({
  entryPoints: [join(root, "worker", "main.ts")],
  outfile: values.outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
  banner: {
    // The NATS client is CommonJS: its `require` of Node built-ins needs a real require.
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __droverRequire } from "node:module";',
      "const require = __droverRequire(import.meta.url);",
    ].join("\n"),
  },
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
console.log(
  `built ${relative(process.cwd(), values.outfile) || values.outfile} ` +
    `(${(bytes / 1024).toFixed(0)} KiB) in ${(performance.now() - started).toFixed(0)} ms`,
);
