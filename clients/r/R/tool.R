# A tool: the program whose templates make up workflows. Like jobmonr's objects (Python
# references) the package's objects are references (environments): a function that
# changes one also returns it, so both `tool <- set_default_tool_resources(tool, ...)`
# and a bare call work.

#' @export
tool <- function(name = "unknown", active_tool_version_id = "latest") {
  check_name("tool", name, "tool()")
  if (identical(active_tool_version_id, "latest")) {
    version <- "1"
  } else {
    # Jobmon's tool versions are database ids; Drover's is a string that is part of the
    # workflow's identity: the id given is that string.
    version <- arg_string(active_tool_version_id, "tool(): active_tool_version_id")
    if (!nzchar(version)) spec_error("tool(): active_tool_version_id is empty")
  }
  t <- new.env(parent = emptyenv())
  t$name <- name
  t$version <- version
  t$default_cluster <- NULL
  t$resources <- list()
  t$templates <- new.env(parent = emptyenv())
  t$template_order <- character()
  class(t) <- "drover_tool"
  t
}

#' @export
create_new_tool_version <- function(tool) {
  check_class(tool, "drover_tool", "create_new_tool_version(): tool")
  if (!grepl("^[0-9]+$", tool$version)) {
    spec_error(
      "create_new_tool_version(): the tool's version ", dQuote(tool$version, FALSE),
      " is not a number to count on from: make the tool with tool(active_tool_version_id = ...)"
    )
  }
  # A new version is a new identity for the tool's workflows, as in Jobmon.
  tool$version <- as.character(as.numeric(tool$version) + 1)
  tool$version
}

#' @export
set_default_tool_resources <- function(tool, default_cluster_name, resources = NULL,
                                       path_to_yaml = NULL) {
  check_class(tool, "drover_tool", "set_default_tool_resources(): tool")
  if (!is.null(path_to_yaml)) not_supported("set_default_tool_resources(path_to_yaml = ...)", NO_YAML)
  cluster <- cluster_name(default_cluster_name, "set_default_tool_resources(): default_cluster_name")
  if (is.null(cluster)) spec_error("set_default_tool_resources(): default_cluster_name is required")
  tool$resources[[cluster]] <- compute_resources(resources, "set_default_tool_resources(): resources")
  tool$default_cluster <- cluster
  invisible(tool)
}

#' @export
print.drover_tool <- function(x, ...) {
  cat("<drover tool ", x$name, " version ", x$version, ">\n", sep = "")
  invisible(x)
}

check_class <- function(x, class, label) {
  if (!inherits(x, class)) {
    what <- c(drover_tool = "a tool (from tool())",
              drover_task_template = "a task template (from task_template())",
              drover_task = "a task (from task() or array_tasks())",
              drover_workflow = "a workflow (from workflow())")[[class]]
    spec_error(label, ": expected ", what, ", not ", class(x)[[1L]])
  }
  x
}
