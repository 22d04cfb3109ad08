# A workflow as a spec (SPEC.md §1), the JSON document `drover submit -` reads. The CLI
# expands, checks and hashes it exactly as it does a YAML file, so the same DAG has the
# same task hashes whichever language built it. Each task is one entry, named, with its
# args; upstream tasks are referred to by name.
#
# The task entries are written as text, a column at a time: jsonlite takes ~13 s for
# 100,000 task entries as lists, this ~1 s.

#' @export
workflow_spec <- function(workflow) {
  jsonlite::fromJSON(spec_text(workflow), simplifyVector = FALSE)
}

spec_text <- function(workflow) {
  check_class(workflow, "drover_workflow", "workflow")
  tool <- workflow$tool
  tasks <- workflow$tasks
  if (length(tasks) == 0L) {
    spec_error("workflow ", dQuote(workflow$name, FALSE), " has no tasks: add_tasks() first")
  }
  template_of <- vapply(tasks, function(t) t$template$name, "")
  for (name in unique(template_of)) {
    tt <- tasks[[match(name, template_of)]]$template
    if (!identical(tt$tool, tool)) {
      spec_error("template ", dQuote(tt$name, FALSE), " belongs to tool ", dQuote(tt$tool$name, FALSE),
                 ", not to the workflow's tool ", dQuote(tool$name, FALSE))
    }
  }
  entries <- task_entries(tasks, template_of, workflow$keys)

  cluster <- workflow$default_cluster
  templates <- lapply(intersect(tool$template_order, template_of), function(name) {
    template_spec(tool$templates[[name]], workflow)
  })
  spec_workflow <- list(name = workflow$name, args = workflow$args)
  if (!is.null(workflow$max_concurrently_running)) {
    spec_workflow$max_concurrently_running <- workflow$max_concurrently_running
  }
  if (!is.null(cluster)) spec_workflow$default_cluster <- cluster
  # Tool defaults under the workflow's, key by key, for the workflow's cluster.
  defaults <- utils::modifyList(
    pick_cluster(tool$resources, cluster, "set_default_tool_resources()"),
    pick_cluster(workflow$resources, cluster, "set_default_workflow_resources()")
  )
  if (length(defaults) > 0L) spec_workflow$default_resources <- defaults
  if (!is.null(workflow$default_max_attempts)) {
    spec_workflow$default_max_attempts <- workflow$default_max_attempts
  }
  if (length(workflow$attributes) > 0L) spec_workflow$attributes <- workflow$attributes
  spec_workflow <- c(spec_workflow, workflow$where)
  paste0(
    "{\"tool\":", to_json(list(name = tool$name, version = tool$version)),
    ",\"workflow\":", to_json(spec_workflow),
    ",\"templates\":", to_json(templates),
    ",\"tasks\":[", paste(entries, collapse = ","), "]}"
  )
}

# One JSON object per task, in the order the tasks were added.
task_entries <- function(tasks, template_of, keys) {
  out <- character(length(tasks))
  for (name in unique(template_of)) {
    idx <- which(template_of == name)
    arg_order <- tasks[[idx[[1L]]]]$template$arg_order
    text <- paste0("{\"template\":", json_str(name), ",\"name\":",
                   json_str(vapply(tasks[idx], function(t) t$name, "")), ",\"args\":{")
    if (length(arg_order) > 0L) {
      values <- matrix(unlist(lapply(tasks[idx], function(t) t$args), use.names = FALSE),
                       ncol = length(arg_order), byrow = TRUE)
      pairs <- vapply(seq_along(arg_order), function(j) {
        paste0(json_str(arg_order[[j]]), ":", json_str(values[, j]))
      }, character(length(idx)))
      if (!is.matrix(pairs)) pairs <- matrix(pairs, nrow = length(idx))
      text <- paste0(text, do.call(paste, c(lapply(seq_len(ncol(pairs)), function(j) pairs[, j]), sep = ",")))
    }
    text <- paste0(text, "}")
    extra <- vapply(tasks[idx], function(t) task_extra(t, keys), "")
    out[idx] <- paste0(text, extra, "}")
  }
  out
}

# The fields after a task's args: its upstream task names and its own settings.
task_extra <- function(t, keys) {
  text <- ""
  ups <- t$upstream
  if (length(ups) > 0L) {
    up_names <- character(length(ups))
    for (j in seq_along(ups)) {
      up <- ups[[j]]
      if (!identical(keys[[up$key]], up)) {
        spec_error("task ", dQuote(t$name, FALSE), ": its upstream task ", dQuote(up$name, FALSE),
                   " is not in this workflow: add it with add_tasks()")
      }
      up_names[[j]] <- up$name
    }
    text <- paste0(",\"upstream\":[", paste(json_str(unique(up_names)), collapse = ","), "]")
  }
  if (nzchar(t$settings_json)) text <- paste0(text, ",", t$settings_json)
  text
}

template_spec <- function(tt, workflow) {
  spec <- list(
    name = tt$name,
    command = tt$command,
    node_args = I(tt$node_args),
    task_args = I(tt$task_args),
    op_args = I(tt$op_args)
  )
  if (!is.null(tt$default_cluster)) spec$cluster <- tt$default_cluster
  on <- if (!is.null(tt$default_cluster)) tt$default_cluster else workflow$default_cluster
  own <- pick_cluster(tt$resources, on, "set_default_template_resources()")
  if (length(own) > 0L) spec$resources <- own
  # Drover has no workflow-wide scales: the workflow's apply to each template.
  if (length(workflow$scales) > 0L) spec$resource_scales <- workflow$scales
  limit <- workflow$template_limits[[tt$name]]
  if (is.null(limit)) limit <- tt$max_concurrently_running
  if (!is.null(limit)) spec$max_concurrently_running <- limit
  c(spec, tt$where)
}

# The resources of the cluster the tasks run on; with no cluster named anywhere, the one
# entry there is (more than one is ambiguous, and refused).
pick_cluster <- function(store, cluster, where) {
  if (length(store) == 0L) return(list())
  if (!is.null(cluster)) {
    found <- store[[cluster]]
    return(if (is.null(found)) list() else found)
  }
  if (length(store) > 1L) {
    spec_error(where, " names clusters ", paste(names(store), collapse = ", "),
               ": give the workflow a default cluster to say whose resources apply")
  }
  store[[1L]]
}

to_json <- function(x) {
  as.character(jsonlite::toJSON(x, auto_unbox = TRUE, digits = NA, null = "null"))
}

# A task's settings as the members of its JSON object ("" for none).
settings_json <- function(settings) {
  if (length(settings) == 0L) return("")
  text <- to_json(settings)
  substr(text, 2L, nchar(text) - 1L)
}

# JSON string literals of a character vector.
json_str <- function(x) {
  x <- enc2utf8(x)
  x <- gsub("\\", "\\\\", x, fixed = TRUE)
  x <- gsub("\"", "\\\"", x, fixed = TRUE)
  control <- grepl("[\001-\037]", x, perl = TRUE)
  if (any(control)) {
    y <- x[control]
    y <- gsub("\n", "\\n", y, fixed = TRUE)
    y <- gsub("\r", "\\r", y, fixed = TRUE)
    y <- gsub("\t", "\\t", y, fixed = TRUE)
    for (code in 1:31) y <- gsub(intToUtf8(code), sprintf("\\u%04x", code), y, fixed = TRUE)
    x[control] <- y
  }
  paste0("\"", x, "\"")
}
