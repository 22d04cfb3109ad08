"""A task: one command of a template with its args (Jobmon's Task)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Set

from .constants import task_letter
from .values import default_task_name, render_command

if TYPE_CHECKING:
    from .template import TaskTemplate
    from .workflow import Workflow


class Task:
    """Made by TaskTemplate.create_task / create_tasks, not directly.

    `args` holds every arg of the template as a string, in the template's order.
    `settings` holds the task's own settings already in spec terms (SPEC.md §1 task
    fields); tasks made by one create_tasks call share it."""

    # Slots: a workflow holds up to millions of these.
    __slots__ = ("template", "args", "settings", "given_name", "_name", "_up", "_down", "workflow")

    def __init__(
        self,
        template: "TaskTemplate",
        args: Dict[str, str],
        settings: Mapping[str, Any],
        name: Optional[str] = None,
    ) -> None:
        self.template = template
        self.args = args
        self.settings = settings
        #: the name given to create_task; None: the spec's default name
        self.given_name = name
        self._name = name
        self._up: List[Task] = []
        self._down: Optional[List[Task]] = None
        self.workflow: Optional["Workflow"] = None

    @property
    def name(self) -> str:
        """The name given, else `{template}_{arg}-{value}_…` over the node args."""
        if self._name is None:
            t = self.template
            self._name = default_task_name(t.template_name, t.node_args, self.args)
        return self._name

    @property
    def command(self) -> str:
        return render_command(self.template.command_template, self.args)

    @property
    def node_args(self) -> Dict[str, str]:
        return {a: self.args[a] for a in self.template.node_args}

    @property
    def task_args(self) -> Dict[str, str]:
        return {a: self.args[a] for a in self.template.task_args}

    @property
    def op_args(self) -> Dict[str, str]:
        return {a: self.args[a] for a in self.template.op_args}

    @property
    def upstream_tasks(self) -> Set["Task"]:
        return set(self._up)

    @property
    def downstream_tasks(self) -> Set["Task"]:
        return set(self._down or ())

    def add_upstream(self, ancestor: "Task") -> None:
        """This task runs after `ancestor` is DONE."""
        if not isinstance(ancestor, Task):
            raise TypeError(
                f"task {self.name!r}: an upstream task must be a Task, not {ancestor!r}"
            )
        if ancestor is self:
            raise ValueError(f"task {self.name!r} cannot be its own upstream task")
        self._up.append(ancestor)
        if ancestor._down is None:
            ancestor._down = []
        ancestor._down.append(self)

    def add_downstream(self, descendent: "Task") -> None:
        """`descendent` runs after this task is DONE."""
        if not isinstance(descendent, Task):
            raise TypeError(
                f"task {self.name!r}: a downstream task must be a Task, not {descendent!r}"
            )
        descendent.add_upstream(self)

    @property
    def task_id(self) -> int:
        """The task's id on the Drover stack, once its workflow is bound."""
        return self._bound()["id"]

    @property
    def final_status(self) -> str:
        """The task's status letter (Jobmon's TaskStatus) as of its workflow's last run."""
        return task_letter(self._bound()["status"])

    def _bound(self) -> Dict[str, Any]:
        if self.workflow is None:
            raise AttributeError(f"task {self.name!r} is in no workflow")
        return self.workflow.task_state(self)

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, template={self.template.template_name!r})"
