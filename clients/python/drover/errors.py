"""The errors the client raises. Invalid input is a ValueError, as in Jobmon, so that
code written against Jobmon catches the same things."""

from __future__ import annotations

from typing import Optional


class DroverError(Exception):
    """Base of every error of this package."""


class SpecError(DroverError, ValueError):
    """The workflow as built is not valid: the message names the argument or task."""


class NotSupportedError(SpecError):
    """A Jobmon argument or value that Drover has no equivalent for. Raised rather than
    ignored: a script that depends on it would otherwise run differently."""


class DuplicateNodeArgsError(SpecError):
    """Two tasks of a template with the same node args (Jobmon's name for it)."""


class WorkflowAlreadyExists(DroverError):
    """A workflow with the same tool and workflow_args exists and is not DONE: run it
    with resume=True (FAILED or HALTED), or wait for it (RUNNING)."""

    def __init__(self, message: str, workflow_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class CliNotFoundError(DroverError):
    """Neither DROVER_CLI nor a `drover` on the PATH."""


class CliError(DroverError):
    """The `drover` command failed. `reason` is the CLI's JSON `reason` when it gave one
    ("invalid", "conflict", "failed", "timeout"), `workflow_id` the workflow it names."""

    def __init__(
        self,
        message: str,
        exit_code: Optional[int] = None,
        reason: Optional[str] = None,
        workflow_id: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.reason = reason
        self.workflow_id = workflow_id


class DroverWarning(UserWarning):
    """A Jobmon argument that is accepted but changes nothing on Drover (it tunes
    machinery Drover does not have): given a value other than its default."""
