"""Binding and running a workflow: Jobmon's bind() and run() on the `drover` command.

bind() is `drover submit - --hold`: the workflow is bound (it has its id) and nothing
runs. run() binds it if needed (`--resume` to resume a FAILED or HALTED one), then
`drover release --wait` lets it run and follows it to its end. The workflow runs on
the Drover stack, not in this process: if this process dies, it goes on, and
`drover wait WF` follows it again."""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any, Dict, List, Optional

from .cli import run_cli, spec_bytes
from .constants import workflow_letter
from .errors import CliError, DroverWarning, SpecError, WorkflowAlreadyExists

log = logging.getLogger("drover")


def warn_ignored(argument: str, why: str) -> None:
    warnings.warn(f"{argument} has no effect on Drover: {why}", DroverWarning, stacklevel=4)


class Lifecycle:
    """The Workflow's bound state. Subclasses provide to_spec() and name."""

    name: str

    def __init__(self) -> None:
        self._workflow_id: Optional[int] = None
        # Bound with --hold and not released yet: run() releases it.
        self._held = False
        # What bind() found when the identity existed and is not DONE: run() resumes
        # it (resume=True) or raises WorkflowAlreadyExists with it.
        self._existing: Optional[str] = None
        self._status: Optional[str] = None
        self._task_states: Optional[Dict[str, Dict[str, Any]]] = None
        #: The final status of the last run, as `drover status --json` gives it.
        self.last_status: Optional[Dict[str, Any]] = None

    def to_spec(self) -> Dict[str, Any]:
        raise NotImplementedError

    @property
    def is_bound(self) -> bool:
        return self._workflow_id is not None

    @property
    def workflow_id(self) -> int:
        if self._workflow_id is None:
            raise AttributeError("workflow_id cannot be accessed before workflow is bound")
        return self._workflow_id

    def bind(self) -> None:
        """Submits the workflow and holds it: it gets its workflow_id, nothing runs until
        run(). A workflow that exists with this identity is not submitted again: DONE, it
        is done; FAILED or HALTED, run(resume=True) resumes it."""
        if self._workflow_id is None:
            self._submit(resume=False, reset_running=False)

    def run(
        self,
        fail_fast: bool = False,
        seconds_until_timeout: Optional[int] = 36000,
        resume: bool = False,
        reset_running_jobs: bool = True,
        distributor_startup_timeout: int = 180,
        resume_timeout: int = 300,
        configure_logging: bool = False,
    ) -> str:
        """Runs the workflow to its end and returns its status letter: "D" (DONE), "F"
        (FAILED), "H" (HALTED: stopped, or over seconds_until_timeout), "A" (ABORTED).

        resume: resume a FAILED or HALTED workflow of this identity (its DONE tasks are
        kept); reset_running_jobs: with resume, kill and rerun its running tasks (cold
        resume, Jobmon's default). configure_logging: log to stderr, with the progress of
        the run. A workflow that is DONE already runs nothing and returns "D"."""
        if distributor_startup_timeout != 180:
            warn_ignored("distributor_startup_timeout", "there is no distributor process to start")
        if resume_timeout != 300:
            warn_ignored("resume_timeout", "a resume takes effect when it is submitted")
        if configure_logging:
            _attach_handler()
        if seconds_until_timeout is not None and not (
            isinstance(seconds_until_timeout, int) and seconds_until_timeout > 0
        ):
            raise SpecError(
                f"seconds_until_timeout {seconds_until_timeout!r} must be a whole number > 0"
            )
        if not self._held:
            if self._status == "DONE":
                return workflow_letter("DONE")
            if self._existing is None or resume:
                self._submit(resume=resume, reset_running=resume and reset_running_jobs)
            if self._existing is not None:
                raise WorkflowAlreadyExists(self._existing, self._workflow_id)
            if self._status == "DONE":
                log.info("workflow %d is DONE already: nothing to run", self.workflow_id)
                return workflow_letter("DONE")
        args = ["release", str(self.workflow_id), "--wait"]
        if fail_fast:
            args.append("--fail-fast")
        if seconds_until_timeout is not None:
            args += ["--timeout", str(seconds_until_timeout)]
        log.info("workflow %d runs", self.workflow_id)
        _, final = run_cli(args, progress=configure_logging)
        self._held = False
        self._task_states = None
        self._status = final["status"]
        self.last_status = final
        log.info("workflow %d ended %s: %s", self.workflow_id, final["status"], final.get("counts"))
        return workflow_letter(final["status"])

    def _submit(self, resume: bool, reset_running: bool) -> None:
        args: List[str] = ["submit", "-", "--hold"]
        if resume:
            args.append("--resume")
        if reset_running:
            args.append("--reset-running")
        spec = spec_bytes(self.to_spec())
        try:
            _, answer = run_cli(args, stdin=spec)
        except CliError as err:
            if err.reason == "conflict" and err.workflow_id is not None:
                self._workflow_id = err.workflow_id
                self._existing = str(err)
                self._held = False
                self._status = None
                return
            if err.reason == "invalid":
                raise SpecError(str(err)) from err
            raise
        self._workflow_id = int(answer["id"])
        self._status = answer["status"]
        self._held = answer["status"] != "DONE"
        self._existing = None
        self._task_states = None
        log.info("workflow %d bound (%s)", self._workflow_id, self._status)

    def change_concurrency(self, limit: Optional[int], template: Optional[str] = None) -> None:
        """`drover concurrency`: the workflow's limit, or a template's; None lifts it."""
        args = ["concurrency", str(self.workflow_id), "none" if limit is None else str(limit)]
        if template is not None:
            args += ["--template", template]
        run_cli(args)

    def status(self) -> Dict[str, Any]:
        """`drover status --json`: the status and the tasks counted by status."""
        _, doc = run_cli(["status", str(self.workflow_id)])
        self._status = doc["status"]
        return doc

    def task_state(self, task: Any) -> Dict[str, Any]:
        """A task's {"id", "name", "template", "status", "attempts"} on the stack."""
        if self._workflow_id is None:
            raise AttributeError(f"task {task.name!r}: its workflow is not bound")
        if self._task_states is None:
            _, doc = run_cli(["tasks", str(self._workflow_id)])
            self._task_states = {t["name"]: t for t in doc["tasks"]}
        state = self._task_states.get(task.name)
        if state is None:
            raise AttributeError(f"task {task.name!r} is not in workflow {self._workflow_id}")
        return state


def _attach_handler() -> None:
    if not any(getattr(h, "_drover", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s drover: %(message)s"))
        handler._drover = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
