import { execFile } from "node:child_process";
import { Counter, Histogram, registry } from "../core/metrics.ts";

const commandCalls = new Counter({
  name: "drover_slurm_commands_total",
  help: "Slurm client commands run by the slurm-bridge, by command and outcome (ok, failed)",
  labelNames: ["command", "outcome"] as const,
  registers: [registry],
});

const commandDuration = new Histogram({
  name: "drover_slurm_command_duration_seconds",
  help: "Duration of the Slurm client commands run by the slurm-bridge, by command",
  labelNames: ["command"] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [registry],
});

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
    const end = commandDuration.startTimer({ command });
    return new Promise((resolve) => {
      execFile(
        program,
        [...args],
        {
          encoding: "utf8",
          timeout: this.timeoutMs,
          maxBuffer: 256 * 1024 * 1024,
          env:
            command === "sbatch" ? sbatchEnv() : { ...process.env, SLURM_TIME_FORMAT: "standard" },
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
          end();
          commandCalls.inc({ command, outcome: code === 0 ? "ok" : "failed" });
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

/** What of the bridge's environment sbatch sees: what a Slurm client and a login need. */
const SBATCH_KEEP = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "LANG",
  "TZ",
  "TMPDIR",
  "SLURM_CONF",
]);

/**
 * sbatch's environment, which a job gets whole (Slurm's default `--export=ALL`): only
 * what a Slurm client needs, nothing of the bridge's settings and credentials (the worker
 * gives each command the manifest's environment). Not `--export=NONE`: that has slurmd
 * load the user's login environment for every job (`su -`, seconds each). Under umask
 * 077 (`SLURM_UMASK`): the job's files (its output, what it creates) are the owner's only;
 * the worker gives the command the owner's usual umask back (the manifest's).
 */
export function sbatchEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (SBATCH_KEEP.has(k) || k.startsWith("LC_") || k.startsWith("SBATCH_"))) {
      out[k] = v;
    }
  }
  return { ...out, SLURM_UMASK: "0077" };
}
