# Drover's fork-join example in R, written with the functions of jobmonr: one model run
# per location and year (the fork), one aggregation per location once its model runs
# are DONE, then one report over every location (the join). The model run of location
# 7 in 2021 fails its first attempt (examples/bin/model.sh) and Drover retries it.
#
# With a stack up (`drover up`) and the drover command on the PATH or in DROVER_CLI:
#   Rscript examples/fork_join.R [OUTDIR]
# The workflow's identity is the output folder: run it again into the same folder and
# it is DONE already, so nothing runs.
library(drover)

args <- commandArgs(trailingOnly = TRUE)
out <- normalizePath(if (length(args) > 0L) args[[1L]] else file.path(tempdir(), "fork-join"),
                     mustWork = FALSE)
dir.create(out, showWarnings = FALSE, recursive = TRUE)
# The scripts beside this file, by absolute path: tasks run in the stack's folder.
this_file <- sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE))
bin <- file.path(dirname(normalizePath(if (length(this_file) > 0L) this_file else "examples/x")), "bin")

fork_join <- tool(name = "fork_join")
fork_join <- set_default_tool_resources(
  fork_join,
  default_cluster_name = "local",
  resources = list(cores = 1L, memory = "256M", runtime = "5m")
)

model <- task_template(
  tool = fork_join,
  template_name = "model",
  command_template = "sh {bin}/model.sh {location} {year} {out}",
  node_args = list("location", "year"),
  op_args = list("bin", "out")
)
model <- set_default_template_resources(model, default_cluster_name = "local",
                                        resources = list(memory = "512M", runtime = "10m"))
aggregate <- task_template(
  tool = fork_join,
  template_name = "aggregate",
  command_template = "sh {bin}/aggregate.sh {location} {out}",
  node_args = list("location"),
  op_args = list("bin", "out")
)
report <- task_template(
  tool = fork_join,
  template_name = "report",
  command_template = "sh {bin}/report.sh {out}",
  op_args = list("bin", "out")
)

wf <- workflow(
  tool = fork_join,
  workflow_args = paste("fork-join into", out),
  workflow_attributes = list(example = "fork_join.R"),
  name = "fork-join example"
)

locations <- 1:8
# The fork: 16 model runs, up to 3 attempts each.
models <- array_tasks(
  task_template = model,
  location = locations,
  year = list(2020L, 2021L),
  bin = bin,
  out = out,
  max_attempts = 3L
)
wf <- add_tasks(wf, models)

# One aggregation per location, after that location's model runs.
aggregates <- lapply(locations, function(loc) {
  task(
    task_template = aggregate,
    upstream_tasks = get_tasks_by_node_args(wf, "model", location = loc),
    location = loc,
    bin = bin,
    out = out
  )
})
wf <- add_tasks(wf, aggregates)

# The join: the report waits for every aggregation.
wf <- add_tasks(wf, list(task(
  task_template = report,
  name = "report",
  upstream_tasks = aggregates,
  bin = bin,
  out = out
)))

status <- run(wf, resume = FALSE, seconds_until_timeout = 3600, configure_logging = TRUE)
cat("workflow", workflow_id(wf), "ended with status", status, "\n")
if (status != "D") {
  print(workflow_tasks(wf, status = "ERROR_FATAL"))
  quit(status = 1L)
}
cat(readLines(file.path(out, "report.csv"), n = 4L), sep = "\n")
