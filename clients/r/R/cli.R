# The `drover` command and its JSON interface (SPEC.md §2): one JSON document on
# stdout; exit 0, 1 when a waited-for workflow did not end DONE, 2 with
# {"error", "reason"?, "workflow_id"?} when it refuses. The package runs it once per
# submission or query, never once per task.
#
# The command is DROVER_CLI (a path or a command line such as
# "node /opt/drover/bin/drover.mjs"), else `drover` on the PATH.

cli_command <- function() {
  configured <- trimws(Sys.getenv("DROVER_CLI"))
  if (nzchar(configured)) {
    # scan() splits as a shell would on spaces, keeping quoted parts whole.
    words <- scan(text = configured, what = "", quiet = TRUE)
    if (length(words) > 0L) return(words)
  }
  found <- Sys.which("drover")
  if (nzchar(found)) return(unname(found))
  abort(
    paste0(
      "the drover command was not found: put `drover` on the PATH (in a Drover ",
      "checkout: npm ci && npm link) or set DROVER_CLI to it, e.g. ",
      "Sys.setenv(DROVER_CLI = \"node /opt/drover/bin/drover.mjs\")"
    ),
    "drover_cli_not_found"
  )
}

# Runs `drover ARGS --json`. Returns list(code = 0 or 1, answer = the parsed document).
# `input`: text for standard input. `progress`: the command's progress lines (stderr)
# are shown with message() as they come. Refusals (exit 2) and failures raise
# drover_cli_error carrying the CLI's reason and workflow_id.
cli_run <- function(args, input = NULL, progress = FALSE) {
  command <- cli_command()
  stdin_file <- NULL
  if (!is.null(input)) {
    stdin_file <- tempfile("drover-spec-", fileext = ".json")
    on.exit(unlink(stdin_file), add = TRUE)
    writeLines(input, stdin_file, useBytes = TRUE)
  }
  full <- c(command[-1L], args, "--json")
  stderr_lines <- character()
  on_stderr <- function(line, proc) {
    stderr_lines <<- c(utils::tail(stderr_lines, 50L), line)
    if (progress) message("drover: ", line)
  }
  result <- tryCatch(
    processx::run(
      command[[1L]], full,
      stdin = if (is.null(stdin_file)) NULL else stdin_file,
      error_on_status = FALSE,
      stderr_line_callback = on_stderr,
      cleanup_tree = TRUE
    ),
    system_command_error = function(err) err,
    error = function(err) err
  )
  what <- paste("drover", args[[1L]])
  if (inherits(result, "error")) {
    abort(
      paste0(
        "cannot run ", paste(command, collapse = " "), " (DROVER_CLI or PATH): ",
        conditionMessage(result)
      ),
      "drover_cli_not_found"
    )
  }
  text <- trimws(result$stdout)
  answer <- NULL
  if (nzchar(text)) {
    last <- utils::tail(strsplit(text, "\n", fixed = TRUE)[[1L]], 1L)
    answer <- tryCatch(
      jsonlite::fromJSON(last, simplifyVector = FALSE),
      error = function(err) NULL
    )
  }
  if (!is.list(answer) || is.null(names(answer))) {
    tail <- utils::tail(c(stderr_lines, strsplit(text, "\n", fixed = TRUE)[[1L]]), 20L)
    abort(
      paste0(what, " exited ", result$status, " without a JSON answer:\n",
             paste(tail, collapse = "\n")),
      "drover_cli_error",
      status = result$status
    )
  }
  if (!is.null(answer$error) || !(result$status %in% c(0L, 1L))) {
    abort(
      paste0(what, ": ", if (is.null(answer$error)) "failed" else answer$error),
      "drover_cli_error",
      status = result$status,
      reason = answer$reason,
      workflow_id = answer$workflow_id
    )
  }
  list(code = result$status, answer = answer)
}
