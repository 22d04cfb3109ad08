#!/usr/bin/env node
// Entry point of `drover` / `npx drover`: TypeScript sources run through tsx.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
const code = await main(process.argv.slice(2));
// Exit even if a library left a handle open, once stdout has been flushed.
process.stdout.write("", () => process.exit(code));
