# Conditions raised by the package. Every one is a `drover_error`; the subclass says
# what went wrong, so scripts can catch one kind (tryCatch(..., drover_not_supported =)):
# - drover_spec_error: invalid input (a name, an arg, a resource), found here or by the CLI
# - drover_not_supported: a jobmonr argument or function that Drover has no equivalent for
# - drover_workflow_exists: the identity exists and is not DONE (run(resume = TRUE))
# - drover_timeout: run() reached seconds_until_timeout (the workflow is HALTED)
# - drover_cli_error / drover_cli_not_found: the drover command failed or is missing

abort <- function(message, class = NULL, ...) {
  stop(structure(
    class = c(class, "drover_error", "error", "condition"),
    list(message = message, call = NULL, ...)
  ))
}

spec_error <- function(...) abort(paste0(...), "drover_spec_error")

not_supported <- function(what, why) {
  abort(paste0(what, " is not supported by Drover: ", why), "drover_not_supported")
}

# jobmonr passes `...` on to Jobmon's Python methods; here, a name that is not one of
# them is refused with the function and the name, never dropped.
refuse_unknown <- function(fn, dots, known = character()) {
  if (length(dots) == 0L) return(invisible())
  nms <- names(dots)
  if (is.null(nms) || any(nms == "")) {
    spec_error(fn, ": every argument in ... must be named")
  }
  unknown <- setdiff(nms, known)
  if (length(unknown) > 0L) {
    spec_error(
      fn, ": unknown argument", if (length(unknown) > 1L) "s", " ",
      paste(sQuote(unknown, FALSE), collapse = ", ")
    )
  }
}

# An argument that changes nothing in Drover: its Jobmon default is accepted (scripts
# that spell the default out keep working), any other value is refused.
only_default <- function(fn, name, value, default, why) {
  if (!identical(value, default) && !isTRUE(all.equal(value, default))) {
    not_supported(paste0(sub("\\(\\)$", "", fn), "(", name, " = ", deparse1(value), ")"), why)
  }
}
