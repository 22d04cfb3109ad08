/**
 * Where Drover's files are, whether it runs from its TypeScript sources (a checkout,
 * through tsx) or as the JavaScript built into `dist/` (an installed package). The
 * files read at run time (the migrations in `sql/`, the GUI's `gui/static/`,
 * `deploy/local/services.sh`, the worker bundle `dist/drover-worker.mjs`) are at the
 * same place under the package's folder in both cases; only the modules move.
 */
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));

/** True when this code is the built JavaScript under dist/, false from the sources. */
export const BUILT = import.meta.url.endsWith(".js");

/** The folder holding Drover's package.json: core/.. from the sources, dist/core/../.. built. */
export const PACKAGE_ROOT = BUILT ? join(HERE, "..", "..") : join(HERE, "..");

/** A file of the package, by its path from the package's folder ("sql/", "gui/static/"). */
export const packagePath = (relative: string) => join(PACKAGE_ROOT, relative);

/**
 * The node arguments that run one of Drover's entry modules, named by its source path
 * ("functions/main.ts"): the built module where Drover runs built (tsx is a development
 * tool and not installed with the package), the source through tsx otherwise.
 */
export function moduleArgs(sourcePath: string): string[] {
  if (!sourcePath.endsWith(".ts")) throw new Error(`not a TypeScript source path: ${sourcePath}`);
  if (BUILT) return [join(PACKAGE_ROOT, "dist", sourcePath.replace(/\.ts$/, ".js"))];
  return ["--import", "tsx", join(PACKAGE_ROOT, sourcePath)];
}

/** Starts, stops and installs the private Postgres and NATS of `drover up`. */
export const SERVICES_SCRIPT = packagePath("deploy/local/services.sh");

/**
 * Whether the module at `moduleUrl` is the program node was started with. Compared as
 * real paths: node gives a module its real path, while argv[1] keeps the symlink a
 * deployment starts it through (/opt/drover pointing at the installed package).
 */
export function isMainModule(moduleUrl: string): boolean {
  const started = process.argv[1];
  if (!started) return false;
  try {
    return realpathSync(started) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
