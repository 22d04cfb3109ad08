import { spawnSync } from "node:child_process";

/** How many processes of this host have `marker` in their command line (pgrep -f). */
export function processesWith(marker: string): number {
  const r = spawnSync("pgrep", ["-f", marker], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean).length;
}
