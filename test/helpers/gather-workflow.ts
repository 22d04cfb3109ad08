// A dummy-cluster workflow of `n` tasks for end-to-end runs: groups of ~100 independent
// `work` tasks, each group gathered by one `gather` task downstream of all of it.
import type { Submission } from "../../submission/submission.ts";

export function gatherWorkflow(
  n: number,
  options: {
    name?: string;
    /** seconds each task sleeps on the dummy cluster */
    sleep?: number;
    /** every k-th work task fails its first attempt (0: none) */
    failEvery?: number;
    /** the workflow's limit of tasks running at once: spreads the run over time */
    maxConcurrent?: number;
  } = {},
): Submission {
  const groups = Math.max(1, Math.round(n / 100));
  const per = Math.floor(n / groups) - 1;
  const sleep = options.sleep ?? 0.05;
  const tasks: Submission["tasks"] = [];
  for (let g = 0; g < groups; g++) {
    const first = tasks.length;
    for (let i = 0; i < per; i++) {
      const fails = options.failEvery && i % options.failEvery === 0 ? "1" : "0";
      tasks.push({
        template: "work",
        name: `work_${g}_${i}`,
        args: { g: String(g), i: String(i), f: fails },
        upstream: [],
      });
    }
    tasks.push({
      template: "gather",
      name: `gather_${g}`,
      args: { g: String(g) },
      upstream: Array.from({ length: per }, (_, k) => first + k),
    });
  }
  return {
    tool: { name: "e2e", version: "1" },
    workflow: {
      name: options.name ?? `gather ${n}`,
      default_cluster: "dummy",
      default_max_attempts: 10,
      fail_fast: false,
      ...(options.maxConcurrent ? { max_concurrently_running: options.maxConcurrent } : {}),
    },
    templates: [
      {
        name: "work",
        // `@dummy:fail-first=1` fails the first attempt; `=0` never fails.
        command: `@dummy:sleep=${sleep} @dummy:fail-first={f} {g} {i}`,
        node_args: ["g", "i"],
        task_args: [],
        op_args: ["f"],
      },
      {
        name: "gather",
        command: `@dummy:sleep=${sleep} {g}`,
        node_args: ["g"],
        task_args: [],
        op_args: [],
      },
    ],
    tasks,
  };
}

/** Tasks in gatherWorkflow(n) (groups round n). */
export function gatherTaskCount(n: number): number {
  const groups = Math.max(1, Math.round(n / 100));
  return groups * Math.floor(n / groups);
}
