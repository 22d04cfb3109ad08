/**
 * Values that end up on a scheduler's command line or in a job script's `#SBATCH` lines:
 * cluster, queue (partition), project (account). Slurm's own names are this simple; a
 * newline or a quote in one would add lines to the script (`#SBATCH --qos=…`, or a
 * shell line), so anything else is refused wherever such a value enters: the clients'
 * checks, bind-dag (which checks again), the queues a bridge registers, and the
 * slurm-bridge before it writes a script (a submission may not come from our client).
 */
export const OPTION_VALUE = /^[A-Za-z0-9_.+-]{1,64}$/;

export const OPTION_VALUE_RULE = "letters, digits and _ . + -, at most 64";

/** The problem with such a value, naming it, or null when it is fine. */
export function optionValueProblem(what: string, value: unknown): string | null {
  if (typeof value === "string" && OPTION_VALUE.test(value)) return null;
  const shown =
    typeof value === "string"
      ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
      : String(value);
  return `${what} ${shown} is not allowed (${OPTION_VALUE_RULE})`;
}
