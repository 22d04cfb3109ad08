# jobmonr's compute resources, resource scales and cluster names in the terms of
# Drover's spec (SPEC.md §1 Units: memory "2G" or a number of GiB, runtime "10m",
# "HH:MM:SS" or a number of seconds). What Drover has no equivalent for is refused,
# naming the key, never dropped.

# Jobmon's cluster names -> Drover's; other names pass unchanged (a cluster registered
# on the Drover stack).
CLUSTERS <- c(slurm = "slurm", sequential = "sequential", multiprocess = "local",
              local = "local", dummy = "dummy")

# Jobmon's resource keys, with the names of its earlier releases -> Drover's.
RESOURCE_KEYS <- c(cores = "cores", num_cores = "cores", memory = "memory",
                   m_mem_free = "memory", runtime = "runtime",
                   max_runtime_seconds = "runtime", queue = "queue", project = "project")

NO_EQUIVALENT <- c(
  stdout = "Drover keeps each task's standard output itself: read it with `drover logs TASK`",
  stderr = "Drover keeps each task's standard error itself: `drover logs TASK --stderr`",
  constraints = "Drover's slurm-bridge passes no Slurm node constraints"
)

NO_YAML <- paste0(
  "the package reads no YAML: give the resources as a named list, ",
  "or write a spec file (template_resources, include) for `drover submit`"
)

NUMBER <- "[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
DROVER_MEMORY <- paste0("^", NUMBER, "\\s*[kmgtKMGT](?:[iI]?[bB])?$")
DROVER_RUNTIME <- paste0("^", NUMBER, "\\s*[smhdSMHD]$")
CLOCK <- "^(?:[0-9]+-)?[0-9]+:[0-9]{1,2}:[0-9]{1,2}$"
BARE <- paste0("^", NUMBER, "$")
RUNTIME_WORDS <- c(
  s = 1, sec = 1, secs = 1, second = 1, seconds = 1,
  min = 60, mins = 60, minute = 60, minutes = 60,
  hr = 3600, hrs = 3600, hour = 3600, hours = 3600,
  day = 86400, days = 86400
)

cluster_name <- function(name, label) {
  if (is.null(name) || identical(name, "")) return(NULL)
  name <- check_string(name, label)
  if (!is.na(CLUSTERS[name])) unname(CLUSTERS[name]) else name
}

# A number is GiB, as in Jobmon; strings in Drover's forms ("512M", "2G", "1.5GiB",
# "2") are passed on; bytes ("100b") are converted.
memory_amount <- function(value, label) {
  if (is.numeric(value) && length(value) == 1L && !is.na(value)) return(value)
  if (is.character(value) && length(value) == 1L && !is.na(value)) {
    text <- trimws(value)
    if (grepl(BARE, text, perl = TRUE) || grepl(DROVER_MEMORY, text, perl = TRUE)) return(text)
    bytes <- regmatches(text, regexec("^([0-9]+)\\s*[bB]$", text))[[1L]]
    if (length(bytes) == 2L) return(paste0(ceiling(as.numeric(bytes[[2L]]) / 1024), "K"))
  }
  spec_error(label, ": memory ", deparse1(value),
             " is not an amount (use e.g. \"512M\", \"2G\" or a number of GiB)")
}

# A number is seconds, as in Jobmon; "90s", "10m", "2h", "1d", "HH:MM:SS" are passed
# on; Jobmon's longer units ("2hr", "30min", "45 seconds") are converted to seconds.
runtime_amount <- function(value, label) {
  if (is.numeric(value) && length(value) == 1L && !is.na(value)) return(value)
  if (is.character(value) && length(value) == 1L && !is.na(value)) {
    text <- trimws(value)
    if (grepl(BARE, text, perl = TRUE) || grepl(DROVER_RUNTIME, text, perl = TRUE) ||
        grepl(CLOCK, text, perl = TRUE)) {
      return(text)
    }
    wordy <- regmatches(text, regexec(paste0("^(", NUMBER, ")\\s*([A-Za-z]+)$"), text, perl = TRUE))[[1L]]
    if (length(wordy) == 3L) {
      factor <- RUNTIME_WORDS[tolower(wordy[[3L]])]
      if (!is.na(factor)) return(ceiling(as.numeric(wordy[[2L]]) * factor))
    }
  }
  spec_error(label, ": runtime ", deparse1(value),
             " is not a duration (use e.g. \"90s\", \"10m\", \"2h\", \"HH:MM:SS\" or seconds)")
}

# A named list of jobmonr compute resources -> Drover's resources (a named list).
compute_resources <- function(values, label) {
  if (is.function(values)) {
    not_supported(
      paste0(label, " as a function"),
      "a task is sized when the workflow is submitted, not when it starts: give a named list"
    )
  }
  if (is.null(values) || length(values) == 0L) return(list())
  if (!is.list(values) && !is.atomic(values)) spec_error(label, ": expected a named list")
  values <- as.list(values)
  keys <- names(values)
  if (is.null(keys) || any(keys == "")) spec_error(label, ": every resource must be named")
  out <- list()
  for (key in keys) {
    where <- paste0(label, "$", key)
    if (!is.na(NO_EQUIVALENT[key])) not_supported(where, NO_EQUIVALENT[[key]])
    target <- RESOURCE_KEYS[key]
    if (is.na(target)) {
      not_supported(where, "Drover's resources are cores, memory, runtime, queue and project")
    }
    target <- unname(target)
    if (!is.null(out[[target]])) spec_error(where, ": ", target, " is given twice")
    value <- values[[key]]
    if (is.null(value)) next
    out[[target]] <- switch(
      target,
      memory = memory_amount(value, where),
      runtime = runtime_amount(value, where),
      cores = check_count(value, where),
      check_string(as.character(value), where)
    )
  }
  out
}

# jobmonr's resource_scales: a factor per resource (new = ceil(old * (1 + f))), or
# the amounts for each retry in turn (memory in GiB, runtime in seconds, as in Jobmon).
resource_scales <- function(values, label) {
  if (is.null(values) || length(values) == 0L) return(list())
  if (!is.list(values) && !is.numeric(values)) spec_error(label, ": expected a named list")
  values <- as.list(values)
  keys <- names(values)
  if (is.null(keys) || any(keys == "")) spec_error(label, ": every scale must be named")
  out <- list()
  for (key in keys) {
    where <- paste0(label, "$", key)
    if (!key %in% c("memory", "runtime")) {
      not_supported(where, "Drover scales only memory and runtime after a resource error")
    }
    scale <- values[[key]]
    if (is.function(scale)) {
      not_supported(
        paste0(where, " as a function"),
        "retries run on the Drover stack, not in R: give a factor or a list of amounts"
      )
    }
    convert <- if (key == "memory") memory_amount else runtime_amount
    if (is.numeric(scale) && length(scale) == 1L && !is.list(values[[key]])) {
      if (is.na(scale) || scale <= 0 || !is.finite(scale)) {
        spec_error(where, ": factor ", scale, " must be more than zero")
      }
      out[[key]] <- scale
    } else if (length(scale) >= 1L) {
      out[[key]] <- I(lapply(as.list(scale), convert, label = where))
    } else {
      spec_error(where, ": expected a factor or a list of amounts")
    }
  }
  out
}

# Attributes: a named list, or names alone (their values are given later in Jobmon;
# here they are the empty string).
attribute_values <- function(values, label) {
  if (is.null(values) || length(values) == 0L) return(list())
  if (is.character(values) && is.null(names(values))) {
    return(stats::setNames(as.list(rep("", length(values))), values))
  }
  values <- as.list(values)
  keys <- names(values)
  if (is.null(keys) || any(keys == "")) {
    if (all(vapply(values, is.character, TRUE))) {
      return(stats::setNames(as.list(rep("", length(values))), unlist(values)))
    }
    spec_error(label, ": expected a named list")
  }
  out <- lapply(keys, function(k) {
    v <- values[[k]]
    if (is.null(v)) "" else arg_string(v, paste0(label, "$", k))
  })
  stats::setNames(out, keys)
}

fallback_queue_list <- function(values, label) {
  if (is.null(values)) return(NULL)
  queues <- unlist(values, use.names = FALSE)
  if (!is.character(queues) || anyNA(queues) || any(!nzchar(queues))) {
    spec_error(label, ": expected queue names")
  }
  I(queues)
}

# Resources kept per cluster, as jobmonr keeps them: only the entry of the cluster the
# tasks run on applies.
per_cluster <- function(store, cluster, values) {
  if (is.null(cluster) || identical(cluster, "")) {
    spec_error("default_cluster_name is required with resources")
  }
  store[[cluster]] <- values
  store
}
