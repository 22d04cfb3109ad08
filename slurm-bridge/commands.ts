import { execFile } from "node:child_process";

/**
 * Runs the Slurm client commands (sbatch, sacct, squeue, scancel, scontrol) and counts
 * every call: the bridge must show that Slurm sees one sbatch per launch batch and one
 * sacct per poll cycle, never a call per task. `paths` maps a command to the program run
 * for it (default: the name, found on the PATH); tests point one at a stand-in to make
 * it fail.
 */

export type SlurmCommand = "sbatch" | "sacct" | "squeue" | "scancel" | "scontrol";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandFailed extends Error {
  override name = "CommandFailed";
  constructor(
    readonly command: SlurmCommand,
    readonly result: CommandResult,
  ) {
    const detail = (result.stderr.trim() || result.stdout.trim() || `exit ${result.code}`).slice(
      0,
      1000,
    );
    super(`${command} failed: ${detail}`);
  }
}

export class SlurmCommands {
  readonly calls: Record<SlurmCommand, number> = {
    sbatch: 0,
    sacct: 0,
    squeue: 0,
    scancel: 0,
    scontrol: 0,
  };
  readonly failures: Record<SlurmCommand, number> = {
    sbatch: 0,
    sacct: 0,
    squeue: 0,
    scancel: 0,
    scontrol: 0,
  };
  readonly paths: Partial<Record<SlurmCommand, string>>;

  constructor(
    paths: Partial<Record<SlurmCommand, string>> = {},
    private readonly timeoutMs = 120_000,
  ) {
    this.paths = { ...paths };
  }

  /** Runs the command; resolves with its result whatever the exit status. */
  run(command: SlurmCommand, args: readonly string[]): Promise<CommandResult> {
    this.calls[command]++;
    const program = this.paths[command] ?? command;
    return new Promise((resolve) => {
      execFile(
        program,
        [...args],
        {
          encoding: "utf8",
          timeout: this.timeoutMs,
          maxBuffer: 256 * 1024 * 1024,
          env: { ...process.env, SLURM_TIME_FORMAT: "standard" },
        },
        (err, stdout, stderr) => {
          let code = 0;
          if (err) {
            const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
            code = typeof e.code === "number" ? e.code : 127;
            if (typeof e.code !== "number") stderr = `${stderr}${err.message}`;
            if (e.killed) stderr = `${stderr}\n(timed out after ${this.timeoutMs} ms)`;
          }
          if (code !== 0) this.failures[command]++;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Runs the command; throws CommandFailed unless it exits 0. */
  async ok(command: SlurmCommand, args: readonly string[]): Promise<string> {
    const result = await this.run(command, args);
    if (result.code !== 0) throw new CommandFailed(command, result);
    return result.stdout;
  }
}
