# Arg values, names and command placeholders under the rules of Drover's spec format
# (SPEC.md §1). Each rule mirrors submission/names.ts, submission/command.ts or
# submission/normalize.ts: the CLI checks everything again, these checks only report a
# mistake in the call that made it.

MAX_NAME_LENGTH <- 255L
# Not allowed in tool, template and task names: whitespace, / \ ' " and control characters
FORBIDDEN <- "[\\s/\\\\'\"\\x00-\\x1f\\x7f]"
ARG_NAME <- "^[A-Za-z_][A-Za-z0-9_]*$"
PLACEHOLDER <- "\\{\\{|\\}\\}|\\$\\{[^}]*\\}|\\{([A-Za-z_][A-Za-z0-9_]*)(:q)?\\}"

# Numbers as ECMAScript's String() writes them, which is how a spec file's or the
# TypeScript client's values become strings: 2020 and 2020L are "2020", 1e5 is
# "100000", 0.5 is "0.5". Fractions keep R's 15 significant digits.
number_strings <- function(x) {
  out <- character(length(x))
  whole <- x == trunc(x) & abs(x) < 1e21
  out[whole] <- sprintf("%.0f", x[whole])
  out[whole & x == 0] <- "0"
  fraction <- !whole
  if (any(fraction)) {
    s <- as.character(x[fraction])
    # R writes 1e-07 where ECMAScript writes 1e-7
    out[fraction] <- sub("e([+-])0+([0-9])", "e\\1\\2", s)
  }
  out
}

# Arg values (a vector, or a list of single values) as the strings Drover substitutes
# and compares: as a spec file writes them (TRUE is "true", 1 and 1L are "1").
arg_strings <- function(values, label) {
  if (is.factor(values)) values <- as.character(values)
  if (is.list(values)) {
    lengths <- lengths(values)
    if (any(lengths != 1L)) {
      spec_error(label, ": each value must be one value, not ", lengths[lengths != 1L][[1L]])
    }
    kinds <- vapply(values, function(v) class(v)[[1L]], "")
    if (length(unique(kinds)) > 1L) {
      return(vapply(values, function(v) arg_strings(v, label), ""))
    }
    values <- unlist(values, use.names = FALSE)
    if (is.factor(values)) values <- as.character(values)
  }
  if (length(values) == 0L) spec_error(label, ": no value")
  if (anyNA(values)) spec_error(label, ": NA is not a value")
  if (is.character(values)) return(enc2utf8(values))
  if (is.logical(values)) return(ifelse(values, "true", "false"))
  if (is.integer(values)) return(as.character(values))
  if (is.numeric(values)) {
    if (any(!is.finite(values))) spec_error(label, ": ", values[!is.finite(values)][[1L]], " is not a value")
    return(number_strings(values))
  }
  spec_error(
    label, ": a ", class(values)[[1L]], " is not a value (give a string, number or logical)"
  )
}

arg_string <- function(value, label) {
  if (is.list(value) && length(value) == 1L) value <- value[[1L]]
  if (length(value) != 1L) {
    spec_error(label, ": expected one value, not ", length(value))
  }
  arg_strings(value, label)
}

# JSON has strings, numbers and logicals; anything else is refused here, by name.
check_scalar <- function(value, label) {
  if (is.factor(value)) value <- as.character(value)
  if (length(value) != 1L || is.na(value) ||
      !(is.character(value) || is.numeric(value) || is.logical(value))) {
    spec_error(label, ": expected one string, number or logical")
  }
  value
}

check_string <- function(value, label) {
  if (!is.character(value) || length(value) != 1L || is.na(value) || !nzchar(value)) {
    spec_error(label, ": expected a non-empty string")
  }
  enc2utf8(value)
}

check_count <- function(value, label, minimum = 1L) {
  if (!is.numeric(value) || length(value) != 1L || is.na(value) ||
      value != trunc(value) || value < minimum || value > .Machine$integer.max) {
    spec_error(label, ": ", deparse1(value), " must be a whole number of at least ", minimum)
  }
  as.integer(value)
}

check_flag <- function(value, label) {
  if (!is.logical(value) || length(value) != 1L || is.na(value)) {
    spec_error(label, ": expected TRUE or FALSE")
  }
  value
}

name_problem <- function(kind, name) {
  if (!is.character(name) || length(name) != 1L || is.na(name) || !nzchar(name)) {
    return(paste(kind, "name is empty"))
  }
  shown <- dQuote(if (nchar(name) > 60L) paste0(substr(name, 1L, 60L), "...") else name, FALSE)
  if (nchar(name) > MAX_NAME_LENGTH) {
    return(paste0(kind, " name ", shown, " is longer than ", MAX_NAME_LENGTH, " characters"))
  }
  bad <- regmatches(name, regexpr(FORBIDDEN, name, perl = TRUE))
  if (length(bad) > 0L) {
    what <- if (grepl("[\\x00-\\x1f\\x7f]", bad, perl = TRUE)) {
      "a control character"
    } else if (grepl("\\s", bad, perl = TRUE)) {
      "whitespace"
    } else {
      dQuote(bad, FALSE)
    }
    return(paste0(kind, " name ", shown, " contains ", what, " (not allowed: / \\ ' \" and spaces)"))
  }
  if (grepl("^[0-9]", name)) return(paste0(kind, " name ", shown, " starts with a digit"))
  NULL
}

check_name <- function(kind, name, label = NULL) {
  problem <- name_problem(kind, name)
  if (!is.null(problem)) spec_error(if (!is.null(label)) paste0(label, ": "), problem)
  name
}

# Arg name lists: jobmonr takes list("a", "b") or c("a", "b").
arg_names <- function(names, label) {
  if (is.null(names) || length(names) == 0L) return(character())
  if (is.list(names)) {
    if (any(lengths(names) != 1L) || !all(vapply(names, is.character, TRUE))) {
      spec_error(label, ": expected arg names (strings)")
    }
    names <- unlist(names, use.names = FALSE)
  }
  if (!is.character(names) || anyNA(names)) spec_error(label, ": expected arg names (strings)")
  bad <- names[!grepl(ARG_NAME, names)]
  if (length(bad) > 0L) {
    spec_error(
      label, ": arg name ", dQuote(bad[[1L]], FALSE),
      " is not valid (letters, digits and _, not starting with a digit)"
    )
  }
  names
}

# The distinct {name} placeholders of a command, in order of first appearance.
placeholders <- function(command) {
  m <- gregexpr(PLACEHOLDER, command, perl = TRUE)[[1L]]
  if (m[[1L]] == -1L) return(character())
  starts <- attr(m, "capture.start")[, 1L]
  lens <- attr(m, "capture.length")[, 1L]
  found <- substring(command, starts, starts + lens - 1L)[lens > 0L]
  unique(found)
}

# `{template}_{arg}-{value}_...` over the node args (values: one character vector per
# node arg, all of one length), forbidden characters replaced by `_`: the names a spec
# file gives tasks it does not name.
default_task_names <- function(template, node_args, values, n) {
  names <- rep(template, n)
  for (a in node_args) names <- paste0(names, "_", a, "-", values[[a]])
  names <- gsub(FORBIDDEN, "_", names, perl = TRUE)
  long <- nchar(names) > MAX_NAME_LENGTH
  if (any(long)) {
    spec_error(
      "template ", dQuote(template, FALSE), ": the default name of a task would be longer than ",
      MAX_NAME_LENGTH, " characters (", substr(names[long][[1L]], 1L, 60L),
      "...): give the task a name with task(name = ...)"
    )
  }
  names
}

ENV_NAME <- "^[A-Za-z_][A-Za-z0-9_]{0,255}$"

# Drover's `working_dir` and `env` (SPEC.md §4) as the spec's fields, when given: the
# folder made absolute against this R session's folder (the spec file's rule is relative
# to its file; here there is none), the variables as strings. The CLI checks them again.
where <- function(working_dir, env, label) {
  out <- list()
  if (!is.null(working_dir)) {
    if (!is.character(working_dir) || length(working_dir) != 1L || is.na(working_dir) ||
        !nzchar(working_dir)) {
      spec_error(label, ": working_dir must be a non-empty path")
    }
    dir <- path.expand(working_dir)
    if (!startsWith(dir, "/")) dir <- file.path(getwd(), dir)
    out$working_dir <- normalizePath(dir, mustWork = FALSE)
  }
  if (!is.null(env)) {
    if (!is.list(env) && !is.character(env)) {
      spec_error(label, ": env must be a named list of variables and values")
    }
    keys <- names(env)
    if (length(env) > 0L && (is.null(keys) || any(!nzchar(keys)))) {
      spec_error(label, ": env must be a named list of variables and values")
    }
    bad <- keys[!grepl(ENV_NAME, keys)]
    if (length(bad) > 0L) {
      spec_error(label, ": env variable name ", dQuote(bad[[1L]], FALSE),
                 " is not allowed (letters, digits and _, not starting with a digit)")
    }
    values <- lapply(keys, function(k) arg_string(env[[k]], paste0(label, ": env ", k)))
    # A named list, so that no variables is {} in JSON, not [].
    out$env <- stats::setNames(values, keys)
    if (length(values) == 0L) out$env <- structure(list(), names = character())
  }
  out
}
