# Helpers of the package's tests. Tests that need a Drover stack find it through
# DROVER_CLI, DROVER_NATS_URL and DROVER_DATABASE_URL, which clients/r/r.test.ts sets
# (`npm test -- clients/r/r.test.ts`); it counts a skipped test as a failure.

needs_stack <- function() {
  if (!nzchar(Sys.getenv("DROVER_CLI"))) {
    testthat::skip("needs a Drover stack: run it with npm test -- clients/r/r.test.ts")
  }
}

# A model run that fails its first attempt for location 2 (a flaky node), and fails
# every attempt for a location whose `broken_LOC` file exists (bad input).
model_script <- function(out) {
  path <- file.path(out, "model.sh")
  writeLines(c(
    "#!/bin/sh",
    "loc=$1 out=$2",
    "echo \"$loc\" >> \"$out/model_$loc.log\"",
    "if [ \"$loc\" = 2 ] && [ ! -e \"$out/flaky_done\" ]; then",
    "  touch \"$out/flaky_done\"; echo \"flaky first attempt\" >&2; exit 3",
    "fi",
    "if [ -e \"$out/broken_$loc\" ]; then echo \"broken input for $loc\" >&2; exit 7; fi",
    "echo \"model $loc\" > \"$out/model_$loc.txt\""
  ), path)
  path
}

new_out <- function() {
  out <- tempfile("drover-r-")
  dir.create(out)
  # Slurm jobs and the local bridge may run as another user.
  Sys.chmod(out, "0777")
  out
}

# prep -> model per location (3) -> join: a fork-join with resources at each level and
# retries. Built anew on each call, as a script run again would.
fork_join <- function(cluster, out, workflow_args, queue = NULL) {
  t <- tool("r_fork_join")
  defaults <- list(memory = "256M", runtime = "5m", cores = 1L)
  if (!is.null(queue)) defaults$queue <- queue
  set_default_tool_resources(t, default_cluster_name = cluster, resources = defaults)
  prep <- task_template(t, "prep", "echo prep >> {out}/prep.log", op_args = list("out"))
  model <- task_template(t, "model", "sh {script} {loc} {out}",
                         node_args = list("loc"), op_args = list("script", "out"))
  model <- set_default_template_resources(model, default_cluster_name = cluster,
                                          resources = list(memory = "300M", runtime = "2m"))
  join <- task_template(
    t, "join", "cat {out}/model_1.txt {out}/model_2.txt {out}/model_3.txt > {out}/summary.txt",
    op_args = list("out")
  )
  script <- model_script(out)
  p <- task(prep, name = "prep", out = out)
  # Location 1 asks for more memory than its template gives.
  m1 <- task(model, upstream_tasks = list(p), max_attempts = 2L,
             compute_resources = list(memory = "400M"), loc = 1L, script = script, out = out)
  ms <- array_tasks(model, upstream_tasks = list(p), max_attempts = 2L,
                    loc = list(2L, 3L), script = script, out = out)
  j <- task(join, name = "join", upstream_tasks = c(list(m1), ms), out = out)
  wf <- workflow(t, workflow_args = workflow_args,
                 workflow_attributes = list(suite = "testthat"))
  add_tasks(wf, c(list(p, m1), ms, list(j)))
}

tasks_by_name <- function(wf) {
  tasks <- workflow_tasks(wf)
  rownames(tasks) <- tasks$name
  tasks
}

# `drover task TASK --json`: the task with its instances (attempts).
task_detail <- function(id) drover:::cli_run(c("task", id))$answer

lines_of <- function(path) if (file.exists(path)) readLines(path) else character()

GiB <- 1024^3
MiB <- 1024^2
