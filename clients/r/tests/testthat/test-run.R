# run() and bind() against a real Drover stack: what run() returns in each case, and
# the errors the stack reports.

one_task <- function(name, command, args = name, ...) {
  t <- tool("r_run_test")
  tt <- task_template(t, "step", command)
  set_default_template_resources(tt, "local", list(memory = "128M", runtime = "2m", ...))
  add_tasks(workflow(t, workflow_args = args), list(task(tt, name = name)))
}

test_that("bind() gives the workflow its id and runs nothing until run()", {
  needs_stack()
  out <- new_out()
  marker <- file.path(out, "ran")
  wf <- one_task("bound", paste("touch", marker), args = paste0("bind-", basename(out)))
  bind(wf)
  id <- workflow_id(wf)
  expect_true(id > 0)
  expect_equal(workflow_status(wf)$status, "REGISTERING")
  expect_false(file.exists(marker))
  expect_equal(run(wf), "D")
  expect_equal(workflow_id(wf), id)
  expect_true(file.exists(marker))
  expect_equal(workflow_status(id)$counts$DONE, 1L)
})

test_that("running out of seconds_until_timeout is an error, as in Jobmon; the workflow is HALTED", {
  needs_stack()
  wf <- one_task("sleeper", "sleep 120", args = paste0("timeout-", basename(new_out())))
  started <- Sys.time()
  err <- expect_error(run(wf, seconds_until_timeout = 2), "within the given workflow timeout",
                      class = "drover_timeout")
  expect_lt(as.numeric(difftime(Sys.time(), started, units = "secs")), 90)
  expect_equal(err$status$status, "HALTED")
  expect_equal(workflow_status(wf)$status, "HALTED")
})

test_that("what the stack refuses comes back as an error naming the problem", {
  needs_stack()
  wf <- one_task("queued", "true", args = paste0("queue-", basename(new_out())), queue = "no_such.q")
  expect_error(run(wf), "no_such.q", class = "drover_error")
})

test_that("a task runs in its working_dir with its env over this session's environment", {
  needs_stack()
  out <- new_out()
  Sys.setenv(DROVER_R_CAPTURED = "from the session")
  on.exit(Sys.unsetenv("DROVER_R_CAPTURED"))
  t <- tool("r_where_test")
  tt <- task_template(t, "where", "pwd > where.txt; echo \"$FOO $DROVER_R_CAPTURED\" >> where.txt",
                      env = list(FOO = "template"))
  set_default_template_resources(tt, "local", list(memory = "128M", runtime = "2m"))
  wf <- workflow(t, workflow_args = paste0("where-", basename(out)), working_dir = out,
                 env = list(FOO = "workflow"))
  wf <- add_tasks(wf, list(task(tt, name = "where", env = list(FOO = "task"))))
  expect_equal(run(wf), "D")
  expect_equal(readLines(file.path(out, "where.txt")),
               c(normalizePath(out), "task from the session"))
})
