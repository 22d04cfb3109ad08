/**
 * What a task gets when no level (workflow, template, task) names a value: 1 core, 1 GiB,
 * 1 hour (SPEC.md §1). Validation, bind and launch all resolve against these, so a task
 * is checked against the queue limits with the same request it is launched with.
 */
export const DEFAULT_RESOURCES = {
  cores: 1,
  memory_bytes: 1024 ** 3,
  runtime_seconds: 3600,
} as const;
