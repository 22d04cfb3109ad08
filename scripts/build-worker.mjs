#!/usr/bin/env node
// Bundles the worker wrapper (worker/main.ts) and everything it imports into ONE
// self-contained ES module, so that a Slurm array element starts it with plain `node`:
// no TypeScript compile, no module resolution, no node_modules on the compute node.
// Beside it, the local bridge's spawner (worker/spawner.ts), bundled for the same
// reason and one more: it must stay small, and tsx would double its size.
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

const bundles = [
  { entry: join(root, "worker", "main.ts"), outfile: values.outfile },
  {
    entry: join(root, "worker", "spawner.ts"),
    outfile: join(dirname(values.outfile), "drover-spawner.mjs"),
  },
];
for (const { entry, outfile } of bundles) {
  const started = performance.now();
  const result = await build({
    entryPoints: [entry],
    outfile,
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
    `built ${relative(process.cwd(), outfile) || outfile} ` +
      `(${(bytes / 1024).toFixed(0)} KiB) in ${(performance.now() - started).toFixed(0)} ms`,
  );
}
