"""Status letters as Jobmon writes them, and Drover's status names they stand for.

`Workflow.run()` returns the letter of the workflow's status, as Jobmon's does, so a
script's `if status != "D"` keeps working."""

from __future__ import annotations

from typing import Dict


class WorkflowStatus:
    REGISTERING = "G"
    QUEUED = "Q"
    RUNNING = "R"
    DONE = "D"
    FAILED = "F"
    HALTED = "H"
    ABORTED = "A"


class TaskStatus:
    REGISTERING = "G"
    QUEUED = "Q"
    INSTANTIATING = "I"
    LAUNCHED = "O"
    RUNNING = "R"
    DONE = "D"
    ERROR_RECOVERABLE = "E"
    ADJUSTING_RESOURCES = "A"
    ERROR_FATAL = "F"


def _letters(cls: type) -> Dict[str, str]:
    return {k: v for k, v in vars(cls).items() if k.isupper()}


WORKFLOW_LETTERS: Dict[str, str] = _letters(WorkflowStatus)
TASK_LETTERS: Dict[str, str] = _letters(TaskStatus)

#: Jobmon's create_workflow and create_tasks default: no limit.
MAX_CONCURRENTLY_RUNNING = 2_147_483_647


def workflow_letter(status: str) -> str:
    """The Jobmon letter of a Drover workflow status name (the name itself if unknown)."""
    return WORKFLOW_LETTERS.get(status, status)


def task_letter(status: str) -> str:
    return TASK_LETTERS.get(status, status)
