#!/usr/bin/env node
// Entry point of `drover`. In a checkout the TypeScript sources run through tsx (a
// development tool); an installed package has no sources, only the JavaScript that its
// `prepack` built into dist/, and runs that.
import { existsSync } from "node:fs";

const source = new URL("../cli/main.ts", import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL("../dist/cli/main.js", import.meta.url).href));
}
const code = await main(process.argv.slice(2));
// Exit even if a library left a handle open, once stdout has been flushed.
process.stdout.write("", () => process.exit(code));
