# Binding and running a workflow with the `drover` command.
#
# bind() is `drover submit - --hold`: the workflow is bound (it has its id) and nothing
# runs. run() binds it when needed (`--resume` to resume a FAILED or HALTED one), then
# `drover release --wait` lets it run and follows it to its end. The workflow runs on
# the Drover stack, not in R: if R stops waiting (an interrupt, a crash), it goes on,
# and `drover wait WF` follows it again.

# jobmonr's run() returns the status of the workflow run, as Jobmon's letters.
RUN_STATUS <- c(DONE = "D", FAILED = "E", HALTED = "S", ABORTED = "A")

#' @export
bind <- function(workflow) {
  check_class(workflow, "drover_workflow", "bind(): workflow")
  if (is.null(workflow$id)) submit(workflow, resume = FALSE, reset_running = FALSE)
  invisible(workflow)
}

#' @export
run <- function(workflow, resume = FALSE, seconds_until_timeout = 36000, fail_fast = FALSE,
                reset_running_jobs = TRUE, distributor_startup_timeout = 180,
                resume_timeout = 300, configure_logging = FALSE) {
  fn <- "run()"
  check_class(workflow, "drover_workflow", paste0(fn, ": workflow"))
  check_flag(resume, paste0(fn, ": resume"))
  check_flag(fail_fast, paste0(fn, ": fail_fast"))
  check_flag(reset_running_jobs, paste0(fn, ": reset_running_jobs"))
  check_flag(configure_logging, paste0(fn, ": configure_logging"))
  only_default(fn, "distributor_startup_timeout", distributor_startup_timeout, 180,
               "there is no distributor process to start: the Drover stack runs the tasks")
  only_default(fn, "resume_timeout", resume_timeout, 300,
               "a resume takes effect when it is submitted, with nothing to wait for")
  if (!is.null(seconds_until_timeout)) {
    seconds_until_timeout <- check_count(seconds_until_timeout, paste0(fn, ": seconds_until_timeout"))
  }

  if (!workflow$held) {
    if (is.null(workflow$id) || resume || !is.null(workflow$status)) {
      submit(workflow, resume = resume, reset_running = resume && reset_running_jobs)
    }
    if (!is.null(workflow$existing)) {
      abort(workflow$existing, "drover_workflow_exists", workflow_id = workflow$id)
    }
    if (identical(workflow$status, "DONE")) {
      # The identity ran to DONE already: nothing runs again.
      if (configure_logging) message("drover: workflow ", workflow$id, " is DONE already: nothing to run")
      return(RUN_STATUS[["DONE"]])
    }
  }

  args <- c("release", workflow$id, "--wait")
  if (fail_fast) args <- c(args, "--fail-fast")
  if (!is.null(seconds_until_timeout)) args <- c(args, "--timeout", seconds_until_timeout)
  if (configure_logging) message("drover: workflow ", workflow$id, " runs")
  started <- Sys.time()
  finished <- FALSE
  on.exit(if (!finished) {
    message("drover: workflow ", workflow$id, " goes on running on the Drover stack; ",
            "follow it with `drover wait ", workflow$id, "`")
  }, add = TRUE)
  final <- cli_run(args, progress = configure_logging)$answer
  finished <- TRUE
  workflow$held <- FALSE
  workflow$status <- final$status
  workflow$last_status <- final
  if (configure_logging) {
    message("drover: workflow ", workflow$id, " ended ", final$status, " (",
            final$counts$DONE, " of ", final$total, " tasks DONE)")
  }
  elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
  if (identical(final$status, "HALTED") && !is.null(seconds_until_timeout) &&
      elapsed >= seconds_until_timeout) {
    # As in Jobmon, running out of time is an error, not a status.
    abort(
      paste0("Not all tasks completed within the given workflow timeout length (",
             seconds_until_timeout, " seconds): workflow ", workflow$id,
             " is HALTED; run(resume = TRUE) runs its remaining tasks"),
      "drover_timeout", workflow_id = workflow$id, status = final
    )
  }
  letter <- RUN_STATUS[final$status]
  if (is.na(letter)) abort(paste0("workflow ", workflow$id, " ended in status ", final$status), "drover_cli_error")
  unname(letter)
}

submit <- function(workflow, resume, reset_running) {
  args <- c("submit", "-", "--hold")
  if (resume) args <- c(args, "--resume")
  if (reset_running) args <- c(args, "--reset-running")
  text <- spec_text(workflow)
  answer <- tryCatch(
    cli_run(args, input = text)$answer,
    drover_cli_error = function(err) {
      if (identical(err$reason, "conflict") && !is.null(err$workflow_id)) {
        workflow$id <- err$workflow_id
        # The CLI's advice names its own flag; in R it is run()'s argument.
        text <- sub("^drover submit: ", "", conditionMessage(err))
        resumable <- grepl("; resume it with --resume", text, fixed = TRUE)
        text <- sub("; resume it with --resume.*$", "", text)
        workflow$existing <- if (resumable) {
          paste0(text, ": run(workflow, resume = TRUE) resumes it (its DONE tasks are kept)")
        } else {
          text
        }
        workflow$held <- FALSE
        workflow$status <- NULL
        return(NULL)
      }
      if (identical(err$reason, "invalid")) {
        abort(sub("^drover submit: ", "", conditionMessage(err)), "drover_spec_error")
      }
      stop(err)
    }
  )
  if (is.null(answer)) return(invisible(workflow))
  workflow$id <- answer$id
  workflow$status <- answer$status
  workflow$held <- !identical(answer$status, "DONE")
  workflow$existing <- NULL
  invisible(workflow)
}

#' @export
workflow_id <- function(workflow) {
  check_class(workflow, "drover_workflow", "workflow_id(): workflow")
  if (is.null(workflow$id)) spec_error("workflow ", dQuote(workflow$name, FALSE), " is not bound yet: bind() or run() it")
  workflow$id
}

id_of <- function(x, fn) {
  if (inherits(x, "drover_workflow")) return(workflow_id(x))
  check_count(x, paste0(fn, ": workflow"))
}

#' @export
workflow_status <- function(workflow) {
  id <- id_of(workflow, "workflow_status()")
  answer <- cli_run(c("status", id))$answer
  if (inherits(workflow, "drover_workflow")) workflow$status <- answer$status
  answer
}

#' @export
workflow_tasks <- function(workflow, status = NULL) {
  id <- id_of(workflow, "workflow_tasks()")
  args <- c("tasks", id)
  if (!is.null(status)) args <- c(args, "--status", check_string(status, "workflow_tasks(): status"))
  tasks <- cli_run(args)$answer$tasks
  data.frame(
    id = vapply(tasks, function(t) as.numeric(t$id), 1),
    name = vapply(tasks, function(t) t$name, ""),
    template = vapply(tasks, function(t) t$template, ""),
    status = vapply(tasks, function(t) t$status, ""),
    attempts = vapply(tasks, function(t) as.integer(t$attempts), 1L),
    stringsAsFactors = FALSE
  )
}

#' @export
concurrency <- function(workflow, limit, task_template_name = NULL) {
  id <- id_of(workflow, "concurrency()")
  n <- if (is.null(limit)) "none" else check_count(limit, "concurrency(): limit", 0L)
  args <- c("concurrency", id, n)
  if (!is.null(task_template_name)) {
    args <- c(args, "--template", check_string(task_template_name, "concurrency(): task_template_name"))
  }
  invisible(cli_run(args)$answer)
}
