# A fork-join workflow run to its end on a real Drover stack, on the cluster named by
# DROVER_TEST_CLUSTER (`local` unless clients/r/r.test.ts asks for `slurm`): resources,
# retries, a task that fails for good, resume, and what run() returns.

cluster <- Sys.getenv("DROVER_TEST_CLUSTER", "local")
queue <- if (cluster == "slurm") "debug" else NULL

test_that(paste("a fork-join fails, is refused without resume, resumes, then is DONE for good on", cluster), {
  needs_stack()
  out <- new_out()
  args <- paste0("fork-join-", cluster, "-", basename(out))
  file.create(file.path(out, "broken_3"))

  wf <- fork_join(cluster, out, args, queue)
  # configure_logging: progress on stderr, for the report of a test that fails.
  expect_equal(run(wf, seconds_until_timeout = 600, configure_logging = TRUE), "E")
  first_id <- workflow_id(wf)
  tasks <- tasks_by_name(wf)
  expect_equal(tasks["prep", "status"], "DONE")
  expect_equal(tasks["model_loc-1", "status"], "DONE")
  # Retried after its first attempt failed.
  expect_equal(tasks["model_loc-2", "status"], "DONE")
  expect_equal(tasks["model_loc-2", "attempts"], 2L)
  # Failed both of its max_attempts = 2.
  expect_equal(tasks["model_loc-3", "status"], "ERROR_FATAL")
  expect_equal(tasks["model_loc-3", "attempts"], 2L)
  expect_equal(tasks["join", "status"], "REGISTERING")
  expect_equal(workflow_status(wf)$status, "FAILED")

  # Resources as requested: task over template over tool.
  requested <- function(name) task_detail(tasks[name, "id"])$instances[[1L]]$memory_requested
  expect_equal(requested("prep"), 256 * MiB)
  expect_equal(requested("model_loc-1"), 400 * MiB)
  expect_equal(requested("model_loc-2"), 300 * MiB)
  failed <- task_detail(tasks["model_loc-3", "id"])$instances
  expect_equal(failed[[2L]]$exit_code, 7L)
  if (cluster == "slurm") {
    # Slurm's job ids: the attempts went through sbatch.
    expect_match(failed[[1L]]$distributor_id, "^[0-9]+")
  }

  # The same identity built again: refused without resume, naming how to resume.
  again <- fork_join(cluster, out, args, queue)
  err <- expect_error(run(again), class = "drover_workflow_exists")
  expect_match(conditionMessage(err), "FAILED")
  expect_match(conditionMessage(err), "resume = TRUE", fixed = TRUE)
  expect_equal(err$workflow_id, first_id)

  # Resumed once the input is fixed: the DONE tasks are kept, the rest run.
  unlink(file.path(out, "broken_3"))
  expect_equal(run(again, resume = TRUE), "D")
  expect_equal(workflow_id(again), first_id)
  expect_equal(lines_of(file.path(out, "prep.log")), "prep")
  expect_equal(lines_of(file.path(out, "summary.txt")), c("model 1", "model 2", "model 3"))
  tasks <- tasks_by_name(again)
  expect_true(all(tasks$status == "DONE"))
  expect_equal(tasks["prep", "attempts"], 1L)

  # DONE: run again, it is the same workflow and nothing runs.
  logs <- lapply(1:3, function(loc) lines_of(file.path(out, paste0("model_", loc, ".log"))))
  third <- fork_join(cluster, out, args, queue)
  expect_equal(run(third), "D")
  expect_equal(workflow_id(third), first_id)
  expect_equal(lines_of(file.path(out, "prep.log")), "prep")
  expect_equal(lapply(1:3, function(loc) lines_of(file.path(out, paste0("model_", loc, ".log")))), logs)
})
