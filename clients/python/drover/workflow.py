"""A workflow: tasks and the defaults they share (Jobmon's Workflow). Binding and
running it, through the `drover` command, are in lifecycle.py."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import resources as res
from .constants import MAX_CONCURRENTLY_RUNNING
from .errors import DuplicateNodeArgsError, SpecError
from .lifecycle import Lifecycle, warn_ignored
from .spec import build_spec
from .task import Task
from .values import SCALARS, arg_string, string_map

if TYPE_CHECKING:
    from .tool import Tool


class Workflow(Lifecycle):
    """Made by Tool.create_workflow.

    `workflow_args` is the workflow's identity with the tool: a string (Jobmon's form:
    the spec's `args` is then `{"workflow_args": …}`) or a dict (the spec's `args` as
    they are). Empty, it is a new random identity, as in Jobmon."""

    def __init__(
        self,
        tool: "Tool",
        workflow_args: Union[str, Mapping[str, Any]] = "",
        name: str = "",
        description: str = "",
        workflow_attributes: Any = None,
        max_concurrently_running: int = MAX_CONCURRENTLY_RUNNING,
        chunk_size: int = 500,
        default_cluster_name: str = "",
        default_max_attempts: Optional[int] = None,
    ) -> None:
        super().__init__()
        self.tool = tool
        #: Drover's working_dir and env of every task (SPEC.md §4), set by create_workflow.
        self.where: Dict[str, Any] = {}
        if isinstance(workflow_args, Mapping):
            self.identity = string_map(workflow_args, "workflow_args")
            self.workflow_args: Any = dict(workflow_args)
        else:
            self.workflow_args = str(workflow_args) if workflow_args else str(uuid.uuid4())
            self.identity = {"workflow_args": self.workflow_args}
        self.name = name or (
            self.workflow_args if isinstance(self.workflow_args, str) else tool.name
        )
        self.description = description
        self.workflow_attributes: Dict[str, str] = {}
        if workflow_attributes:
            self.workflow_attributes = res.attributes(workflow_attributes, "workflow_attributes")
        if description:
            # Drover has no description field: it is kept as an attribute of that name.
            if "description" in self.workflow_attributes:
                raise SpecError("description is given and is also in workflow_attributes")
            self.workflow_attributes["description"] = str(description)
        self.max_concurrently_running: Optional[int] = None
        if max_concurrently_running != MAX_CONCURRENTLY_RUNNING:
            self.max_concurrently_running = res.positive_int(
                max_concurrently_running, "max_concurrently_running", minimum=0
            )
        if chunk_size != 500:
            warn_ignored("chunk_size", "the spec is sent in one piece, streamed to the binder")
        self.default_cluster_name = default_cluster_name
        self.default_max_attempts = (
            None
            if default_max_attempts is None
            else res.positive_int(default_max_attempts, "default_max_attempts")
        )
        self._resources: Dict[str, Dict[str, Any]] = {}
        self._scales: Dict[str, Dict[str, Any]] = {}
        self._template_limits: Dict[str, int] = {}
        #: the tasks added, by identity (template name, node arg values), in order added
        self.tasks: Dict[Any, Task] = {}

    # Defaults

    @property
    def default_compute_resources_set(self) -> Dict[str, Dict[str, Any]]:
        return {k: dict(v) for k, v in self._resources.items()}

    def set_default_compute_resources_from_dict(
        self, cluster_name: str, dictionary: Dict[str, Any]
    ) -> None:
        label = f"default_compute_resources_set[{cluster_name!r}]"
        self._resources[cluster_name] = res.compute_resources(dictionary, label)

    def set_default_resource_scales_from_dict(
        self, cluster_name: str, dictionary: Dict[str, Any]
    ) -> None:
        self._scales[cluster_name] = res.resource_scales(dictionary, "default_resource_scales_set")

    def set_converted_resources(self, cluster_name: str, resources: Dict[str, Any]) -> None:
        self._resources[cluster_name] = dict(resources)

    def set_converted_scales(self, cluster_name: str, scales: Dict[str, Any]) -> None:
        self._scales[cluster_name] = dict(scales)

    def set_default_cluster_name(self, cluster_name: str) -> None:
        self.default_cluster_name = cluster_name

    def set_default_max_attempts(self, value: int) -> None:
        self.default_max_attempts = res.positive_int(value, "default_max_attempts")

    def defaults_for_cluster(self) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The workflow's default resources and scales: its default cluster's entries
        (as in Jobmon, where a workflow's tasks run on one cluster); with no default
        cluster, the one entry given."""

        def pick(per_cluster: Dict[str, Dict[str, Any]], what: str) -> Dict[str, Any]:
            if self.default_cluster_name:
                return per_cluster.get(self.default_cluster_name, {})
            if len(per_cluster) > 1:
                raise SpecError(
                    f"{what} names clusters {sorted(per_cluster)}: give default_cluster_name "
                    "to say whose defaults apply"
                )
            return next(iter(per_cluster.values()), {})

        return (
            pick(self._resources, "default_compute_resources_set"),
            pick(self._scales, "default_resource_scales_set"),
        )

    # Tasks

    def add_task(self, task: Task) -> Task:
        """Adds a task. Its upstream tasks are added too when the workflow is bound."""
        if not isinstance(task, Task):
            raise TypeError(f"add_task takes a Task, not {task!r}")
        t = task.template
        key = (t.template_name, t.node_key(task.args))
        existing = self.tasks.get(key)
        if existing is not None and existing is not task:
            raise DuplicateNodeArgsError(
                f"task {task.name!r}: template {t.template_name!r} already has a task with node "
                f"args {task.node_args} in this workflow ({existing.name!r}); node args identify a "
                "task within its template"
            )
        self.tasks[key] = task
        task.workflow = self
        return task

    def add_tasks(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self.add_task(task)

    def get_tasks_by_node_args(self, task_template_name: str, **kwargs: Any) -> List[Task]:
        """The tasks of the template whose node args have these values (an iterable:
        any of its values)."""
        tasks = [t for t in self.tasks.values() if t.template.template_name == task_template_name]
        if not tasks:
            raise ValueError(
                f"task_template_name={task_template_name!r} has no task in this workflow"
            )
        wanted: Dict[str, Any] = {}
        for key, value in kwargs.items():
            if key not in tasks[0].template.node_args:
                raise ValueError(f"{key!r} is not a node arg of template {task_template_name!r}")
            label = f"get_tasks_by_node_args {key!r}"
            if isinstance(value, SCALARS):
                wanted[key] = {arg_string(value, label)}
            else:
                wanted[key] = {arg_string(v, label) for v in value}
        return [t for t in tasks if all(t.args[k] in vs for k, vs in wanted.items())]

    def set_task_template_max_concurrency_limit(self, task_template_name: str, limit: int) -> None:
        """The most tasks of the template queued or running at once; 0 pauses them. On a
        bound workflow it takes effect at once (`drover concurrency`)."""
        if not any(t.template.template_name == task_template_name for t in self.tasks.values()):
            raise KeyError(
                f"There is no task_template named {task_template_name!r} in workflow {self.name!r}"
            )
        self._template_limits[task_template_name] = res.positive_int(
            limit, f"{task_template_name!r} limit", minimum=0
        )
        if self.is_bound:
            self.change_concurrency(self._template_limits[task_template_name], task_template_name)

    def template_limit(self, name: str) -> Optional[int]:
        return self._template_limits.get(name)

    def to_spec(self) -> Dict[str, Any]:
        """The workflow as a spec (SPEC.md §1), as `drover submit` reads it."""
        return build_spec(self)

    def closure(self) -> List[Task]:
        """The tasks added, then the upstream tasks reached from them that were not."""
        tasks = list(self.tasks.values())
        reached = set()
        i = 0
        while i < len(tasks):
            for up in tasks[i]._up:
                if up.workflow is not self and up not in reached:
                    reached.add(up)
                    tasks.append(up)
            i += 1
        return tasks

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, workflow_args={self.workflow_args!r})"
