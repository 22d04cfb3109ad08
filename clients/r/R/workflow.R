# A workflow: tasks and the defaults they share. Its identity is its tool (name and
# version) and workflow_args: the same identity run again is the same workflow (run()
# says what happens then).

WORKFLOW_DOTS <- c("name", "description", "max_concurrently_running", "chunk_size",
                   "default_cluster_name", "default_compute_resources_set",
                   "default_resource_scales_set", "default_max_attempts",
                   # Drover's own (SPEC.md §4)
                   "working_dir", "env")

# Jobmon's "no limit" for max_concurrently_running.
JOBMON_UNLIMITED <- 2147483647

#' @export
workflow <- function(tool, workflow_args = "", workflow_attributes = list(), ...) {
  fn <- "workflow()"
  if (missing(tool)) spec_error(fn, ": tool is required")
  check_class(tool, "drover_tool", paste0(fn, ": tool"))
  dots <- list(...)
  refuse_unknown(fn, dots, WORKFLOW_DOTS)
  wf <- new.env(parent = emptyenv())
  wf$tool <- tool
  if (is.list(workflow_args) && length(workflow_args) > 0L) {
    # Drover's own form: the spec's args as they are.
    keys <- names(workflow_args)
    if (is.null(keys) || any(keys == "")) spec_error(fn, ": workflow_args as a list must be named")
    wf$args <- stats::setNames(
      lapply(keys, function(k) arg_string(workflow_args[[k]], paste0(fn, ": workflow_args$", k))),
      keys
    )
    wf$workflow_args <- workflow_args
  } else {
    text <- if (length(workflow_args) == 0L) "" else arg_string(workflow_args, paste0(fn, ": workflow_args"))
    # Empty: a new identity on every run, as in Jobmon. It is made here, not by the
    # stack, so that this object can be resumed; R's random numbers are left alone.
    if (!nzchar(text)) {
      text <- paste0(format(Sys.time(), "%Y%m%dT%H%M%OS6"), "-", Sys.getpid(), "-",
                     basename(tempfile("")))
    }
    # Jobmon's form, a string: the same key as the Python client gives it.
    wf$args <- list(workflow_args = text)
    wf$workflow_args <- text
  }
  name <- dots$name
  wf$name <- if (!is.null(name) && nzchar(name)) {
    check_string(name, paste0(fn, ": name"))
  } else if (is.character(wf$workflow_args)) {
    wf$workflow_args
  } else {
    tool$name
  }
  wf$attributes <- attribute_values(workflow_attributes, paste0(fn, ": workflow_attributes"))
  if (!is.null(dots$description) && nzchar(dots$description)) {
    # Drover has no description field: it is kept as an attribute of that name.
    if (!is.null(wf$attributes$description)) {
      spec_error(fn, ": description is given and is in workflow_attributes too")
    }
    wf$attributes$description <- check_string(dots$description, paste0(fn, ": description"))
  }
  wf$max_concurrently_running <- NULL
  limit <- dots$max_concurrently_running
  if (!is.null(limit) && !identical(as.numeric(limit), JOBMON_UNLIMITED)) {
    wf$max_concurrently_running <- check_count(limit, paste0(fn, ": max_concurrently_running"), 0L)
  }
  if (!is.null(dots$chunk_size)) {
    only_default(fn, "chunk_size", dots$chunk_size, 500,
                 "the whole workflow is sent in one piece and bound in one transaction")
  }
  wf$default_cluster <- cluster_name(dots$default_cluster_name, paste0(fn, ": default_cluster_name"))
  if (is.null(wf$default_cluster)) wf$default_cluster <- tool$default_cluster
  wf$resources <- list()
  for (cl in names(dots$default_compute_resources_set)) {
    wf$resources[[cluster_name(cl, fn)]] <- compute_resources(
      dots$default_compute_resources_set[[cl]],
      paste0(fn, ": default_compute_resources_set$", cl)
    )
  }
  wf$scales <- resource_scales(dots$default_resource_scales_set,
                               paste0(fn, ": default_resource_scales_set"))
  wf$default_max_attempts <- NULL
  if (!is.null(dots$default_max_attempts)) {
    wf$default_max_attempts <- check_count(dots$default_max_attempts, paste0(fn, ": default_max_attempts"))
  }
  # Drover's (SPEC.md §4): where every task runs and what it gets over the environment.
  wf$where <- where(dots[["working_dir"]], dots[["env"]], fn)
  wf$tasks <- list()
  wf$keys <- new.env(parent = emptyenv())
  wf$names <- new.env(parent = emptyenv())
  wf$template_limits <- list()
  wf$id <- NULL
  wf$status <- NULL
  wf$held <- FALSE
  wf$existing <- NULL
  wf$last_status <- NULL
  class(wf) <- "drover_workflow"
  wf
}

#' @export
set_default_workflow_resources <- function(workflow, default_cluster_name, resources = NULL,
                                           path_to_yaml = NULL) {
  fn <- "set_default_workflow_resources()"
  check_class(workflow, "drover_workflow", paste0(fn, ": workflow"))
  if (!is.null(path_to_yaml)) not_supported(paste0(fn, " with path_to_yaml"), NO_YAML)
  cluster <- cluster_name(default_cluster_name, paste0(fn, ": default_cluster_name"))
  if (is.null(cluster)) spec_error(fn, ": default_cluster_name is required")
  workflow$resources[[cluster]] <- compute_resources(resources, paste0(fn, ": resources"))
  workflow$default_cluster <- cluster
  invisible(workflow)
}

#' @export
add_tasks <- function(workflow, tasks) {
  check_class(workflow, "drover_workflow", "add_tasks(): workflow")
  if (inherits(tasks, "drover_task")) tasks <- list(tasks)
  if (!is.list(tasks)) spec_error("add_tasks(): tasks must be a list of tasks")
  keys <- workflow$keys
  names <- workflow$names
  added <- vector("list", length(tasks))
  n <- 0L
  for (t in tasks) {
    if (!inherits(t, "drover_task")) {
      spec_error("add_tasks(): tasks must be tasks (from task() or array_tasks()), not ",
                 class(t)[[1L]])
    }
    key <- t$key
    existing <- keys[[key]]
    if (!is.null(existing)) {
      if (identical(existing, t)) next
      node <- t$template$node_args
      spec_error(
        "add_tasks(): task ", dQuote(t$name, FALSE), ": template ", dQuote(t$template$name, FALSE),
        " already has a task with node args ",
        if (length(node) == 0L) "(none)" else paste0(node, "=", t$args[node], collapse = ", "),
        " in this workflow (", dQuote(existing$name, FALSE),
        "); node args identify a task within its template"
      )
    }
    same_name <- names[[t$name]]
    if (!is.null(same_name)) {
      spec_error("add_tasks(): two tasks are named ", dQuote(t$name, FALSE),
                 " (templates ", dQuote(same_name$template$name, FALSE), " and ",
                 dQuote(t$template$name, FALSE), "): task names must be unique in a workflow")
    }
    keys[[key]] <- t
    names[[t$name]] <- t
    t$workflow <- workflow
    n <- n + 1L
    added[[n]] <- t
  }
  if (n > 0L) workflow$tasks <- c(workflow$tasks, added[seq_len(n)])
  invisible(workflow)
}

#' @export
add_arrays <- function(workflow, arrays) {
  not_supported(
    "add_arrays()",
    "Drover makes one array per template by itself: make the tasks with array_tasks() and add them with add_tasks()"
  )
}

#' @export
get_tasks_by_node_args <- function(workflow, task_template_name, ...) {
  fn <- "get_tasks_by_node_args()"
  check_class(workflow, "drover_workflow", paste0(fn, ": workflow"))
  tasks <- Filter(function(t) identical(t$template$name, task_template_name), workflow$tasks)
  if (length(tasks) == 0L) {
    spec_error(fn, ": template ", dQuote(task_template_name, FALSE), " has no task in this workflow")
  }
  wanted <- list(...)
  node <- tasks[[1L]]$template$node_args
  for (k in names(wanted)) {
    if (!(k %in% node)) {
      spec_error(fn, ": ", sQuote(k, FALSE), " is not a node arg of template ",
                 dQuote(task_template_name, FALSE))
    }
    wanted[[k]] <- arg_strings(wanted[[k]], paste0(fn, ": ", k))
  }
  Filter(function(t) all(vapply(names(wanted), function(k) t$args[[k]] %in% wanted[[k]], TRUE)), tasks)
}

#' @export
set_task_template_max_concurrency_limit <- function(workflow, task_template_name, limit) {
  fn <- "set_task_template_max_concurrency_limit()"
  check_class(workflow, "drover_workflow", paste0(fn, ": workflow"))
  if (!any(vapply(workflow$tasks, function(t) identical(t$template$name, task_template_name), TRUE))) {
    spec_error(fn, ": there is no task template named ", dQuote(task_template_name, FALSE),
               " in workflow ", dQuote(workflow$name, FALSE))
  }
  limit <- check_count(limit, paste0(fn, ": limit"), 0L)
  workflow$template_limits[[task_template_name]] <- limit
  # Bound already: the stack takes the new limit at once.
  if (!is.null(workflow$id)) concurrency(workflow, limit, task_template_name)
  invisible(workflow)
}

#' @export
print.drover_workflow <- function(x, ...) {
  cat("<drover workflow ", dQuote(x$name, FALSE), " of tool ", x$tool$name, ": ",
      length(x$tasks), " tasks", sep = "")
  if (!is.null(x$id)) cat(", id ", x$id, sep = "")
  if (!is.null(x$status)) cat(", ", x$status, sep = "")
  cat(">\n")
  invisible(x)
}
