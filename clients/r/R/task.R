# Tasks: one command of a template with its args. task() makes one, array_tasks() one
# per combination of the node args' values. Args are checked here, so that a mistake
# is reported by the call that made it.

#' @export
# The template's args come in `...`, before the other arguments: R matches arguments
# after `...` only by their full name, so an arg named `c` or `max` is not taken for
# cluster_name or max_attempts.
task <- function(task_template, ..., name = NULL, compute_resources = NULL,
                 upstream_tasks = list(), task_attributes = list(), max_attempts = NULL,
                 resource_scales = NULL, cluster_name = "", fallback_queues = NULL,
                 compute_resources_callable = NULL, working_dir = NULL, env = NULL) {
  if (missing(task_template)) spec_error("task(): task_template is required")
  check_class(task_template, "drover_task_template", "task(): task_template")
  if (!is.null(name)) check_name("task", name, "task()")
  label <- if (is.null(name)) {
    paste0("task of template ", dQuote(task_template$name, FALSE))
  } else {
    paste0("task ", dQuote(name, FALSE))
  }
  given <- list(...)
  check_args(task_template, given, label)
  args <- vapply(task_template$arg_order, function(a) {
    arg_string(given[[a]], paste0(label, ": ", a))
  }, "")
  settings <- task_settings(
    label, compute_resources = compute_resources, task_attributes = task_attributes,
    max_attempts = max_attempts, resource_scales = resource_scales,
    cluster_name = cluster_name, fallback_queues = fallback_queues,
    compute_resources_callable = compute_resources_callable,
    working_dir = working_dir, env = env
  )
  if (is.null(name)) {
    name <- default_task_names(
      task_template$name, task_template$node_args, as.list(args), 1L
    )
  }
  t <- new_task(task_template, args, name, settings, settings_json(settings),
                node_key(task_template, as.list(args)))
  for (up in upstream_list(upstream_tasks, label)) add_upstream(t, up)
  t
}

#' @export
array_tasks <- function(task_template, ..., upstream_tasks = list(), max_attempts = NULL,
                        compute_resources = NULL, cluster_name = "", resource_scales = NULL,
                        fallback_queues = NULL, task_attributes = list(),
                        max_concurrently_running = NULL, compute_resources_callable = NULL,
                        name = NULL, working_dir = NULL, env = NULL) {
  if (missing(task_template)) spec_error("array_tasks(): task_template is required")
  check_class(task_template, "drover_task_template", "array_tasks(): task_template")
  label <- paste0("array_tasks() of template ", dQuote(task_template$name, FALSE))
  if (!is.null(name)) {
    not_supported(
      paste0(label, ": name"),
      "tasks of an array are named by their node args; name tasks one by one with task(name = ...)"
    )
  }
  given <- list(...)
  check_args(task_template, given, label)
  node <- task_template$node_args
  values <- list()
  looped <- character()
  for (a in names(given)) {
    v <- given[[a]]
    if (length(v) == 0L) spec_error(label, ": ", a, " has no values")
    if (length(v) > 1L && !(a %in% node)) {
      spec_error(label, ": ", a, " has ", length(v), " values; only node args may have several")
    }
    values[[a]] <- arg_strings(v, paste0(label, ": ", a))
    if (length(v) > 1L) looped <- c(looped, a)
  }
  # The cross product, the first looped arg slowest.
  n <- prod(vapply(looped, function(a) length(values[[a]]), 1))
  if (n > 1e7) spec_error(label, ": ", n, " tasks are more than a workflow may hold")
  each <- n
  for (a in looped) {
    each <- each / length(values[[a]])
    values[[a]] <- rep(rep(values[[a]], each = each), times = n / (each * length(values[[a]])))
  }
  for (a in setdiff(names(values), looped)) values[[a]] <- rep(values[[a]], n)
  names <- default_task_names(task_template$name, node, values, n)
  settings <- task_settings(
    label, compute_resources = compute_resources, task_attributes = task_attributes,
    max_attempts = max_attempts, resource_scales = resource_scales,
    cluster_name = cluster_name, fallback_queues = fallback_queues,
    compute_resources_callable = compute_resources_callable,
    working_dir = working_dir, env = env
  )
  if (!is.null(max_concurrently_running)) {
    task_template$max_concurrently_running <- check_count(
      max_concurrently_running, paste0(label, ": max_concurrently_running"), 0L
    )
  }
  ups <- upstream_list(upstream_tasks, label)
  order <- task_template$arg_order
  arg_matrix <- do.call(cbind, values[order])
  if (is.null(arg_matrix)) arg_matrix <- matrix(character(), nrow = n, ncol = 0L)
  colnames(arg_matrix) <- order
  keys <- node_key(task_template, values)
  json <- settings_json(settings)
  tasks <- vector("list", n)
  for (i in seq_len(n)) {
    args <- arg_matrix[i, ]
    names(args) <- order
    t <- new_task(task_template, args, names[[i]], settings, json, keys[[i]])
    t$upstream <- ups
    tasks[[i]] <- t
  }
  tasks
}

check_args <- function(template, given, label) {
  if (length(given) > 0L && (is.null(names(given)) || any(names(given) == ""))) {
    spec_error(label, ": every arg must be named (", paste(template$arg_order, collapse = ", "), ")")
  }
  unexpected <- setdiff(names(given), template$arg_order)
  missing <- setdiff(template$arg_order, names(given))
  problems <- c(
    sprintf("%s is not an arg of template %s", sQuote(unexpected, FALSE), dQuote(template$name, FALSE)),
    sprintf("arg %s is missing", sQuote(missing, FALSE))
  )
  if (length(problems) > 0L) spec_error(label, ": ", paste(problems, collapse = "; "))
  twice <- unique(names(given)[duplicated(names(given))])
  if (length(twice) > 0L) spec_error(label, ": arg ", sQuote(twice[[1L]], FALSE), " is given twice")
}

# The task's own settings, as the spec's task fields (SPEC.md §1).
task_settings <- function(label, compute_resources, task_attributes, max_attempts,
                          resource_scales, cluster_name, fallback_queues,
                          compute_resources_callable, working_dir = NULL, env = NULL) {
  if (!is.null(compute_resources_callable)) {
    not_supported(
      paste0(label, ": compute_resources_callable"),
      "a task is sized when the workflow is submitted, not when it starts"
    )
  }
  out <- list()
  if (!is.null(max_attempts)) out$max_attempts <- check_count(max_attempts, paste0(label, ": max_attempts"))
  r <- compute_resources(compute_resources, paste0(label, ": compute_resources"))
  if (length(r) > 0L) out$resources <- r
  cluster <- cluster_name(cluster_name, paste0(label, ": cluster_name"))
  if (!is.null(cluster)) out$cluster <- cluster
  a <- attribute_values(task_attributes, paste0(label, ": task_attributes"))
  if (length(a) > 0L) out$attributes <- a
  s <- resource_scales(resource_scales, paste0(label, ": resource_scales"))
  if (length(s) > 0L) out$resource_scales <- s
  q <- fallback_queue_list(fallback_queues, paste0(label, ": fallback_queues"))
  if (!is.null(q)) out$fallback_queues <- q
  c(out, where(working_dir, env, label))
}

new_task <- function(template, args, name, settings, settings_json, key) {
  # Unhashed: a workflow holds up to millions of these, and small frames keep R's
  # garbage collector from walking a hash table for each.
  t <- new.env(hash = FALSE, parent = emptyenv())
  t$template <- template
  t$args <- args
  t$name <- name
  t$key <- key
  t$settings <- settings
  t$settings_json <- settings_json
  t$upstream <- list()
  t$workflow <- NULL
  class(t) <- "drover_task"
  t
}

upstream_list <- function(upstream_tasks, label) {
  if (is.null(upstream_tasks)) return(list())
  if (inherits(upstream_tasks, "drover_task")) return(list(upstream_tasks))
  if (!is.list(upstream_tasks)) spec_error(label, ": upstream_tasks must be a list of tasks")
  for (up in upstream_tasks) {
    if (!inherits(up, "drover_task")) {
      spec_error(label, ": upstream_tasks must be tasks (from task() or array_tasks()), not ",
                 class(up)[[1L]])
    }
  }
  upstream_tasks
}

add_upstream <- function(task, up) {
  if (identical(task, up)) spec_error("task ", dQuote(task$name, FALSE), " cannot be its own upstream task")
  task$upstream[[length(task$upstream) + 1L]] <- up
}

# Tasks' identity within a workflow: their template and node arg values (`values`:
# one character vector per arg).
node_key <- function(template, values) {
  parts <- c(list(template$name), unname(values[template$node_args]))
  do.call(paste, c(parts, sep = "\x1f"))
}

#' @export
print.drover_task <- function(x, ...) {
  cat("<drover task ", x$name, ": ", render_command(x$template$command, x$args), ">\n", sep = "")
  invisible(x)
}

render_command <- function(command, args) {
  m <- gregexpr(PLACEHOLDER, command, perl = TRUE)
  tokens <- regmatches(command, m)[[1L]]
  replaced <- vapply(tokens, function(tok) {
    if (tok == "{{") return("{")
    if (tok == "}}") return("}")
    inner <- sub("^\\{(.*)\\}$", "\\1", tok)
    quoted <- endsWith(inner, ":q")
    name <- if (quoted) sub(":q$", "", inner) else inner
    if (startsWith(tok, "$") || !(name %in% names(args))) return(tok)
    # {name:q}: one word of POSIX sh, as submission/command.ts's shellQuote writes it.
    if (quoted) paste0("'", gsub("'", "'\\''", args[[name]], fixed = TRUE), "'") else args[[name]]
  }, "")
  regmatches(command, m) <- list(replaced)
  command
}
