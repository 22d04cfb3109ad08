import type { ChildProcess } from "node:child_process";

/** What a finished subprocess gave: its exit status and everything it printed. */
export interface Output {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Collects a spawned child's output until it has exited and closed its pipes. For
 * commands a test must not wait for synchronously: the services answering them often
 * run in the test's own process.
 */
export function collectOutput(child: ChildProcess): Promise<Output> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}
