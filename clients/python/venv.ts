// A Python to run the Python client with: a venv with the package installed as users
// install it (`pip install --no-build-isolation --no-index clients/python`), made from
// the first interpreter that can make one. Used by the tests and the benchmark.
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

export const PACKAGE = resolve(import.meta.dirname);

const run = promisify(execFile);

/**
 * Interpreters to try, in order: DROVER_PYTHON, Debian's (python3-venv gives it venv and
 * pip), then whatever `python3` is on the PATH (e.g. a pyenv build).
 */
export function pythonCandidates(env = process.env): string[] {
  return [env.DROVER_PYTHON, "/usr/bin/python3", "python3"].filter(
    (p): p is string => typeof p === "string" && p !== "",
  );
}

/** Makes a venv in `dir` with the package installed; returns its python. */
export async function venvWithDrover(dir: string): Promise<string> {
  const tried: string[] = [];
  for (const python of pythonCandidates()) {
    const venv = join(dir, `venv-${tried.length}`);
    try {
      await run(python, ["-c", "import sys; assert sys.version_info >= (3, 9), sys.version"]);
      await run(python, ["-m", "venv", venv]);
      await run(join(venv, "bin/pip"), [
        "install",
        "--quiet",
        "--no-build-isolation",
        "--no-index",
        PACKAGE,
      ]);
      return join(venv, "bin/python");
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      tried.push(`${python}: ${(e.stderr || e.message).trim().split("\n").slice(-3).join(" ")}`);
    }
  }
  throw new Error(
    `no Python ≥ 3.9 could make a venv with the drover package (on Debian: apt-get install python3-venv; or set DROVER_PYTHON):\n  ${tried.join("\n  ")}`,
  );
}
