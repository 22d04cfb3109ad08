# A task template: a command with named args, and the defaults its tasks share.

#' @export
task_template <- function(tool, template_name, command_template, node_args = list(),
                          task_args = list(), op_args = list(), working_dir = NULL,
                          env = NULL) {
  check_class(tool, "drover_tool", "task_template(): tool")
  check_name("template", template_name, "task_template()")
  label <- paste0("template ", dQuote(template_name, FALSE))
  if (!is.character(command_template) || length(command_template) != 1L ||
      is.na(command_template) || !nzchar(trimws(command_template))) {
    spec_error(label, ": command_template must be a non-empty string")
  }
  node <- arg_names(node_args, paste0(label, ": node_args"))
  task <- arg_names(task_args, paste0(label, ": task_args"))
  op <- arg_names(op_args, paste0(label, ": op_args"))
  all_args <- c(node, task, op)
  twice <- unique(all_args[duplicated(all_args)])
  if (length(twice) > 0L) {
    spec_error(label, ": arg ", dQuote(twice[[1L]], FALSE), " is listed more than once")
  }
  unknown <- setdiff(placeholders(command_template), all_args)
  if (length(unknown) > 0L) {
    spec_error(
      label, ": command_template uses {", paste(unknown, collapse = "}, {"),
      "}, which ", if (length(unknown) == 1L) "is" else "are",
      " in none of node_args, task_args, op_args"
    )
  }
  existing <- tool$templates[[template_name]]
  if (!is.null(existing)) {
    same <- identical(existing$command, command_template) && identical(existing$node_args, node) &&
      identical(existing$task_args, task) && identical(existing$op_args, op)
    if (!same) {
      spec_error(
        label, " is already defined in tool ", dQuote(tool$name, FALSE),
        " with another command_template or other args; a workflow runs one version of a ",
        "template: give this one another name"
      )
    }
    # Drover's (SPEC.md §4): where its tasks run and what they get, as the last call says.
    existing$where <- where(working_dir, env, label)
    return(existing)
  }
  tt <- new.env(parent = emptyenv())
  tt$tool <- tool
  tt$name <- template_name
  tt$command <- command_template
  tt$node_args <- node
  tt$task_args <- task
  tt$op_args <- op
  tt$arg_order <- all_args
  tt$default_cluster <- NULL
  tt$resources <- list()
  tt$max_concurrently_running <- NULL
  tt$where <- where(working_dir, env, label)
  class(tt) <- "drover_task_template"
  tool$templates[[template_name]] <- tt
  tool$template_order <- c(tool$template_order, template_name)
  tt
}

#' @export
set_default_template_resources <- function(task_template, default_cluster_name,
                                           resources = NULL, path_to_yaml = NULL) {
  fn <- "set_default_template_resources()"
  check_class(task_template, "drover_task_template", paste0(fn, ": task_template"))
  if (!is.null(path_to_yaml)) not_supported(paste0(fn, " with path_to_yaml"), NO_YAML)
  cluster <- cluster_name(default_cluster_name, paste0(fn, ": default_cluster_name"))
  if (is.null(cluster)) spec_error(fn, ": default_cluster_name is required")
  task_template$resources[[cluster]] <- compute_resources(resources, paste0(fn, ": resources"))
  task_template$default_cluster <- cluster
  invisible(task_template)
}

#' @export
print.drover_task_template <- function(x, ...) {
  cat("<drover task template ", x$name, ": ", x$command, ">\n", sep = "")
  invisible(x)
}
