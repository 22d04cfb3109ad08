# The spec the package writes for `drover submit -` (SPEC.md §1): jobmonr's arguments in
# Drover's terms. No stack needed.

small_tool <- function() {
  t <- tool("spec_test")
  set_default_tool_resources(t, default_cluster_name = "slurm",
                             resources = list(num_cores = 2L, m_mem_free = "2G",
                                              max_runtime_seconds = 600, queue = "all.q"))
  t
}

test_that("a DAG becomes a spec: templates, named tasks with string args, upstream names", {
  t <- small_tool()
  prep <- task_template(t, "prep", "prep.sh --loc {loc} --year {year} --flag {flag} --out {out}",
                        node_args = list("loc"), task_args = c("year"), op_args = list("flag", "out"))
  agg <- task_template(t, "agg", "agg.sh {scale}", task_args = list("scale"))
  preps <- array_tasks(prep, loc = list(1L, 2L), year = 2020, flag = TRUE, out = "/data/x y")
  a <- task(agg, name = "agg_all", upstream_tasks = preps, scale = 0.5,
            task_attributes = list(stage = 2L), max_attempts = 5L)
  wf <- workflow(t, workflow_args = "round-7", workflow_attributes = list(release = 9),
                 description = "spec test", max_concurrently_running = 20L)
  wf <- add_tasks(wf, c(preps, list(a)))
  spec <- workflow_spec(wf)

  expect_equal(spec$tool, list(name = "spec_test", version = "1"))
  expect_equal(spec$workflow$name, "round-7")
  expect_equal(spec$workflow$args, list(workflow_args = "round-7"))
  expect_equal(spec$workflow$default_cluster, "slurm")
  expect_equal(spec$workflow$default_resources,
               list(cores = 2L, memory = "2G", runtime = 600L, queue = "all.q"))
  expect_equal(spec$workflow$attributes, list(release = "9", description = "spec test"))
  expect_equal(spec$workflow$max_concurrently_running, 20L)
  expect_equal(vapply(spec$templates, function(x) x$name, ""), c("prep", "agg"))
  expect_equal(spec$templates[[1L]]$node_args, list("loc"))
  expect_equal(spec$templates[[2L]]$node_args, list())

  expect_equal(vapply(spec$tasks, function(x) x$name, ""), c("prep_loc-1", "prep_loc-2", "agg_all"))
  expect_equal(spec$tasks[[1L]]$args,
               list(loc = "1", year = "2020", flag = "true", out = "/data/x y"))
  expect_equal(spec$tasks[[3L]]$args, list(scale = "0.5"))
  expect_equal(spec$tasks[[3L]]$upstream, list("prep_loc-1", "prep_loc-2"))
  expect_equal(spec$tasks[[3L]]$attributes, list(stage = "2"))
  expect_equal(spec$tasks[[3L]]$max_attempts, 5L)
  expect_null(spec$tasks[[1L]]$upstream)
})

test_that("values are the strings a spec file gives them", {
  expect_equal(drover:::arg_strings(c(1, 2020, 1e5, 0.5, -0, 1e-7), "x"),
               c("1", "2020", "100000", "0.5", "0", "1e-7"))
  expect_equal(drover:::arg_strings(list(1L, "a", TRUE), "x"), c("1", "a", "true"))
  expect_equal(drover:::arg_strings(factor("b"), "x"), "b")
  expect_error(drover:::arg_strings(NA, "loc"), "loc: NA is not a value", class = "drover_spec_error")
})

test_that("array_tasks makes the cross product of node args, the first one slowest", {
  t <- tool("cross")
  tt <- task_template(t, "m", "m {a} {b} {c}", node_args = list("a", "b"), op_args = list("c"))
  tasks <- array_tasks(tt, a = 1:2, b = c("x", "y", "z"), c = "k")
  expect_length(tasks, 6L)
  expect_equal(vapply(tasks, function(x) x$name, ""),
               c("m_a-1_b-x", "m_a-1_b-y", "m_a-1_b-z", "m_a-2_b-x", "m_a-2_b-y", "m_a-2_b-z"))
  wf <- add_tasks(workflow(t, "cross"), tasks)
  found <- get_tasks_by_node_args(wf, "m", a = 2L, b = c("x", "z"))
  expect_equal(vapply(found, function(x) x$name, ""), c("m_a-2_b-x", "m_a-2_b-z"))
})

test_that("resources are those of the cluster the tasks run on, jobmonr's names mapped", {
  t <- tool("clusters")
  set_default_tool_resources(t, "multiprocess", list(memory = 1, runtime = "2hr"))
  tt <- task_template(t, "a", "true")
  set_default_template_resources(tt, "slurm", list(memory = "8G"))
  set_default_template_resources(tt, "multiprocess", list(memory = "3G", cores = 2L))
  wf <- add_tasks(workflow(t, "c"), list(task(tt, name = "one", resource_scales = list(memory = 0.25, runtime = list("1h", "2h")),
                                              fallback_queues = list("long.q"), cluster_name = "sequential")))
  spec <- workflow_spec(wf)
  expect_equal(spec$workflow$default_cluster, "local")
  expect_equal(spec$workflow$default_resources, list(memory = 1L, runtime = 7200L))
  expect_equal(spec$templates[[1L]]$cluster, "local")
  expect_equal(spec$templates[[1L]]$resources, list(memory = "3G", cores = 2L))
  expect_equal(spec$tasks[[1L]]$cluster, "sequential")
  expect_equal(spec$tasks[[1L]]$resource_scales, list(memory = 0.25, runtime = list("1h", "2h")))
  expect_equal(spec$tasks[[1L]]$fallback_queues, list("long.q"))
})

test_that("workflow_args as a named list are the spec's args; empty ones are new each time", {
  t <- tool("ids")
  expect_equal(workflow(t, workflow_args = list(round = 7L, run = "a"))$args,
               list(round = "7", run = "a"))
  one <- workflow(t)$args$workflow_args
  two <- workflow(t)$args$workflow_args
  expect_true(nzchar(one))
  expect_false(identical(one, two))
})

test_that("mistakes are reported by the call that made them, naming the argument", {
  t <- tool("mistakes")
  tt <- task_template(t, "m", "m {loc} {year}", node_args = list("loc"), task_args = list("year"))
  expect_error(task(tt, loc = 1), "arg 'year' is missing", class = "drover_spec_error")
  expect_error(task(tt, loc = 1, year = 2, month = 3), "'month' is not an arg of template \"m\"",
               class = "drover_spec_error")
  expect_error(task(tt, loc = 1:2, year = 2), "loc: expected one value, not 2", class = "drover_spec_error")
  expect_error(array_tasks(tt, loc = 1:2, year = 1:2), "year has 2 values; only node args",
               class = "drover_spec_error")
  expect_error(task_template(t, "m", "other {loc}", node_args = list("loc")),
               "already defined in tool", class = "drover_spec_error")
  expect_error(task_template(t, "bad name", "x"), "contains whitespace", class = "drover_spec_error")
  expect_error(task_template(t, "p", "x {nope}"), "uses \\{nope\\}", class = "drover_spec_error")
  expect_error(task(tt, name = "1st", loc = 1, year = 2), "starts with a digit",
               class = "drover_spec_error")
  expect_error(task(tt, loc = 1, year = 2, max_attempts = 0), "max_attempts: 0 must be a whole number",
               class = "drover_spec_error")
  expect_error(task(tt, loc = 1, year = 2, compute_resources = list(memory = "lots")),
               "compute_resources\\$memory: memory \"lots\" is not an amount", class = "drover_spec_error")

  wf <- workflow(t, "mistakes")
  add_tasks(wf, list(task(tt, loc = 1, year = 2)))
  expect_error(add_tasks(wf, list(task(tt, loc = 1, year = 3))), "already has a task with node args loc=1",
               class = "drover_spec_error")
  other <- task_template(t, "o", "o")
  expect_error(add_tasks(wf, list(task(other, name = "m_loc-1"))), "two tasks are named \"m_loc-1\"",
               class = "drover_spec_error")
  orphan <- task(tt, loc = 5, year = 2)
  add_tasks(wf, list(task(other, name = "after", upstream_tasks = list(orphan))))
  expect_error(workflow_spec(wf), "upstream task \"m_loc-5\" is not in this workflow",
               class = "drover_spec_error")
})

test_that("jobmonr arguments Drover has no equivalent for are refused, never dropped", {
  t <- tool("refused")
  tt <- task_template(t, "m", "m {loc}", node_args = list("loc"))
  refused <- function(expr, pattern) {
    expect_error(expr, pattern, class = "drover_not_supported")
  }
  refused(task(tt, loc = 1, compute_resources = list(constraints = "archive")),
          "compute_resources\\$constraints is not supported")
  refused(task(tt, loc = 1, compute_resources = list(stdout = "/tmp/o")), "compute_resources\\$stdout")
  refused(task(tt, loc = 1, compute_resources = list(gpus = 1)), "compute_resources\\$gpus")
  refused(task(tt, loc = 1, compute_resources_callable = function(...) list()),
          "compute_resources_callable is not supported")
  refused(task(tt, loc = 1, resource_scales = list(cores = 0.5)), "resource_scales\\$cores")
  refused(task(tt, loc = 1, resource_scales = list(memory = function(x) x * 2)),
          "resource_scales\\$memory as a function")
  refused(array_tasks(tt, loc = 1:2, name = "arr"), "name is not supported")
  refused(set_default_tool_resources(t, "slurm", path_to_yaml = "r.yaml"), "path_to_yaml")
  refused(set_default_template_resources(tt, "slurm", path_to_yaml = "r.yaml"), "path_to_yaml")
  refused(workflow(t, "w", chunk_size = 100), "workflow\\(chunk_size = 100\\)")
  refused(add_arrays(workflow(t, "w"), list()), "add_arrays\\(\\) is not supported")
  refused(executor_parameters(num_cores = 1), "executor_parameters")
  refused(set_executor(workflow(t, "w"), executor_class = "SGEExecutor"), "set_executor")
  wf <- add_tasks(workflow(t, "w"), list(task(tt, loc = 1)))
  refused(run(wf, distributor_startup_timeout = 10), "run\\(distributor_startup_timeout = 10\\)")
  refused(run(wf, resume_timeout = 5), "resume_timeout")
  expect_error(workflow(t, "w", no_such = 1), "workflow\\(\\): unknown argument 'no_such'",
               class = "drover_spec_error")
  # Jobmon's defaults, spelled out, change nothing and are accepted.
  expect_s3_class(workflow(t, "w", chunk_size = 500, max_concurrently_running = 2147483647),
                  "drover_workflow")
})

test_that("a missing drover command is a clear error", {
  old <- Sys.getenv(c("DROVER_CLI", "PATH"))
  on.exit(do.call(Sys.setenv, as.list(old)))
  Sys.setenv(DROVER_CLI = "", PATH = tempdir())
  t <- tool("nocli")
  wf <- add_tasks(workflow(t, "w"), list(task(task_template(t, "m", "true"))))
  expect_error(run(wf), "the drover command was not found.*DROVER_CLI", class = "drover_cli_not_found")
  Sys.setenv(DROVER_CLI = file.path(tempdir(), "no-such-drover"))
  expect_error(run(wf), "cannot run .*no-such-drover", class = "drover_cli_not_found")
})

test_that("working_dir and env: workflow, template and task, as the spec's keys", {
  t <- tool("where_test")
  tt <- task_template(t, "m", "m {a}", node_args = list("a"),
                      working_dir = "/data/models", env = list(MODEL = "v2", THREADS = 4L))
  one <- task(tt, a = 1, env = list(ONLY = "one"), working_dir = "sub")
  rest <- array_tasks(tt, a = 2:3, env = list())
  wf <- workflow(t, workflow_args = "where", working_dir = "/scratch",
                 env = list(R_LIBS = "/opt/r", FLAG = TRUE))
  wf <- add_tasks(wf, c(list(one), rest))
  spec <- workflow_spec(wf)

  expect_equal(spec$workflow$working_dir, "/scratch")
  expect_equal(spec$workflow$env, list(R_LIBS = "/opt/r", FLAG = "true"))
  expect_equal(spec$templates[[1L]]$working_dir, "/data/models")
  expect_equal(spec$templates[[1L]]$env, list(MODEL = "v2", THREADS = "4"))
  # A relative folder is made absolute against this session's folder.
  expect_equal(spec$tasks[[1L]]$working_dir, normalizePath(file.path(getwd(), "sub"), mustWork = FALSE))
  expect_equal(spec$tasks[[1L]]$env, list(ONLY = "one"))
  # No variables is an empty object, not an array.
  expect_match(drover:::spec_text(wf), "\"env\":{}", fixed = TRUE)
  expect_null(spec$tasks[[2L]]$working_dir)

  expect_error(task(tt, a = 4, env = list(`1BAD` = "x")), "env variable name .1BAD. is not allowed",
               class = "drover_spec_error")
  expect_error(workflow(t, env = "x"), "env must be a named list", class = "drover_spec_error")
  expect_error(task(tt, a = 5, working_dir = ""), "working_dir must be a non-empty path",
               class = "drover_spec_error")
})
