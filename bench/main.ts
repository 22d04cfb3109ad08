/**
 * Benchmarks: `npm run bench -- <name> [options]`. Each prints one JSON document with
 * its measurements (medians and ratios measured in the same run where it repeats).
 */
const benches: Record<string, () => Promise<{ run(argv: string[]): Promise<unknown> }>> = {
  bind: () => import("./bind.ts"),
  lifecycle: () => import("./lifecycle.ts"),
  chain: () => import("./chain.ts"),
  gui: () => import("./gui.ts"),
  python: () => import("./python.ts"),
  auth: () => import("./auth.ts"),
  local: () => import("./local.ts"),
};

const [name, ...argv] = process.argv.slice(2);
const load = name ? benches[name] : undefined;
if (!load) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join("|")}> [options]`);
  process.exit(2);
}
const result = await (await load()).run(argv);
console.log(JSON.stringify(result, null, 2));
process.exit(0);
