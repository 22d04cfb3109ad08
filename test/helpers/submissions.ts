import type { Submission } from "../../submission/submission.ts";

/**
 * Submissions built as plain objects, for tests of what lies beyond the client API.
 * `fanIn(n)`: n `work` tasks then one `gather` task depending on all of them.
 */
export function diamond(
  options: { args?: Record<string, string>; cluster?: string } = {},
): Submission {
  const t = (
    name: string,
    template: string,
    upstream: number[],
    args: Record<string, string> = {},
  ) => ({
    template,
    name,
    args,
    upstream,
  });
  return {
    tool: { name: "test_tool", version: "1" },
    workflow: {
      name: "diamond",
      ...(options.args ? { args: options.args } : {}),
      default_cluster: options.cluster ?? "dummy",
      default_max_attempts: 3,
      fail_fast: false,
    },
    templates: [
      { name: "top", command: "echo top", node_args: [], task_args: [], op_args: [] },
      {
        name: "side",
        command: "echo side {n}",
        node_args: ["n"],
        task_args: [],
        op_args: [],
        resources: { memory_bytes: 2 * 1024 ** 3, runtime_seconds: 600 },
      },
      { name: "bottom", command: "echo bottom", node_args: [], task_args: [], op_args: [] },
    ],
    tasks: [
      t("top", "top", []),
      t("side_n-1", "side", [0], { n: "1" }),
      t("side_n-2", "side", [0], { n: "2" }),
      t("bottom", "bottom", [1, 2]),
    ],
  };
}

export function fanIn(
  n: number,
  options: { args?: Record<string, string>; command?: string } = {},
): Submission {
  const tasks: Submission["tasks"] = [];
  for (let i = 0; i < n; i++) {
    tasks.push({ template: "work", name: `work_i-${i}`, args: { i: String(i) }, upstream: [] });
  }
  tasks.push({ template: "gather", name: "gather", args: {}, upstream: tasks.map((_, i) => i) });
  return {
    tool: { name: "test_tool", version: "1" },
    workflow: {
      name: `fan-in ${n}`,
      ...(options.args ? { args: options.args } : {}),
      default_cluster: "dummy",
      default_max_attempts: 3,
      fail_fast: false,
    },
    templates: [
      {
        name: "work",
        command: options.command ?? "echo {i}",
        node_args: ["i"],
        task_args: [],
        op_args: [],
      },
      { name: "gather", command: "echo gather", node_args: [], task_args: [], op_args: [] },
    ],
    tasks,
  };
}
