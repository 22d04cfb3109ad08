# jobmonr functions that Drover has no equivalent for: refused with what to use instead.

#' @export
executor_parameters <- function(...) {
  not_supported(
    "executor_parameters()",
    "it is Jobmon's old SGE interface; give resources as a named list to task(compute_resources = ...) or set_default_template_resources()"
  )
}

#' @export
set_executor <- function(...) {
  not_supported(
    "set_executor()",
    "it is Jobmon's old SGE interface; name the cluster with default_cluster_name (\"slurm\", \"local\", ...)"
  )
}

#' @export
jobmon_help <- function(object) {
  topics <- c(tool = "tool", task_template = "task_template", task = "task", workflow = "workflow")
  if (missing(object) || !(object %in% names(topics))) {
    spec_error("jobmon_help(): object must be one of ", paste(names(topics), collapse = ", "))
  }
  utils::help(topics[[object]], package = "drover")
}
