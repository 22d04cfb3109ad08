"""A task template: a command with named args and the defaults its tasks share
(Jobmon's TaskTemplate). create_task / create_tasks check args at once, so that a
mistake shows where it was made."""

from __future__ import annotations

import itertools
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional

from . import resources as res
from .cluster_defaults import ClusterDefaults
from .constants import MAX_CONCURRENTLY_RUNNING
from .errors import NotSupportedError, SpecError
from .task import Task
from .values import SCALARS, arg_string, check_arg_name, check_name, placeholders, where

if TYPE_CHECKING:
    from .tool import Tool

#: The settings of a task that sets none of its own, shared (most tasks).
NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})


class TaskTemplate(ClusterDefaults):
    """Made by Tool.get_task_template."""

    def __init__(
        self,
        tool: "Tool",
        template_name: str,
        command_template: str,
        node_args: Optional[List[str]] = None,
        task_args: Optional[List[str]] = None,
        op_args: Optional[List[str]] = None,
    ) -> None:
        check_name("template", template_name)
        label = f"template {template_name!r}"
        if not isinstance(command_template, str) or command_template == "":
            raise SpecError(f"{label}: command_template must be a non-empty string")
        self.tool = tool
        self.template_name = template_name
        self.command_template = command_template
        self.node_args = _arg_list(node_args, label, "node_args")
        self.task_args = _arg_list(task_args, label, "task_args")
        self.op_args = _arg_list(op_args, label, "op_args")
        self.arg_order = self.node_args + self.task_args + self.op_args
        self._arg_set = frozenset(self.arg_order)
        if len(self._arg_set) != len(self.arg_order):
            raise SpecError(f"{label}: an arg is in more than one of node_args, task_args, op_args")
        unknown = [p for p in placeholders(command_template) if p not in self._arg_set]
        if unknown:
            raise SpecError(
                f"{label}: command_template uses {', '.join(unknown)}, which "
                f"{'is' if len(unknown) == 1 else 'are'} in none of node_args, task_args, op_args"
            )
        #: The identity of a task within the workflow: its node arg values.
        self.node_key: Callable[[Mapping[str, str]], Any] = (
            itemgetter(*self.node_args) if self.node_args else (lambda args: ())
        )
        self.default_cluster_name = ""
        self.default_max_attempts: Optional[int] = None
        #: Drover's limit of this template's tasks running at once (create_tasks's).
        self.max_concurrently_running: Optional[int] = None
        #: Drover's working_dir and env of its tasks (SPEC.md §4), set by get_task_template.
        self.where: Dict[str, Any] = {}
        # Per Jobmon cluster name, already in Drover's terms.
        self._resources: Dict[str, Dict[str, Any]] = {}
        self._scales: Dict[str, Dict[str, Any]] = {}

    def same_definition(self, command: str, node: Any, task: Any, op: Any) -> bool:
        return (command, list(node or []), list(task or []), list(op or [])) == (
            self.command_template,
            self.node_args,
            self.task_args,
            self.op_args,
        )

    # Defaults, per cluster as in Jobmon: only the entry of the cluster the template's
    # tasks run on applies.

    @property
    def default_compute_resources_set(self) -> Dict[str, Dict[str, Any]]:
        return {k: dict(v) for k, v in self._resources.items()}

    @property
    def default_resource_scales_set(self) -> Dict[str, Dict[str, Any]]:
        return {k: dict(v) for k, v in self._scales.items()}

    _set_claims_cluster = True

    @property
    def _defaults_owner(self) -> str:
        return f"template {self.template_name!r}"

    def set_default_max_attempts(self, value: int) -> None:
        self.default_max_attempts = res.positive_int(
            value, f"template {self.template_name!r} max_attempts"
        )

    def set_default_compute_resources_from_yaml(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(res.NO_YAML)

    def set_default_resource_scales_from_yaml(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(res.NO_YAML)

    # Tasks

    def create_task(
        self,
        name: str = "",
        upstream_tasks: Optional[Iterable[Task]] = None,
        task_attributes: Any = None,
        max_attempts: Optional[int] = None,
        compute_resources: Optional[Dict[str, Any]] = None,
        compute_resources_callable: Optional[Callable[..., Any]] = None,
        resource_scales: Optional[Dict[str, Any]] = None,
        cluster_name: str = "",
        fallback_queues: Optional[List[str]] = None,
        working_dir: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> Task:
        """One task; `kwargs` gives every arg of the template, and no others."""
        # The label of errors is made only for one: this runs once per task.
        label = _TaskLabel(self.template_name, name)
        if name:
            check_name("task", name)
        if kwargs.keys() != self._arg_set:
            self._check_args(str(label), kwargs.keys())
        args = self._arg_values(kwargs, label)
        settings = NO_SETTINGS
        if not (
            max_attempts is None
            and compute_resources is None
            and compute_resources_callable is None
            and not resource_scales
            and not cluster_name
            and fallback_queues is None
            and not task_attributes
            and working_dir is None
            and env is None
        ):
            settings = self._settings(
                str(label),
                max_attempts=max_attempts,
                compute_resources=compute_resources,
                compute_resources_callable=compute_resources_callable,
                resource_scales=resource_scales,
                cluster_name=cluster_name,
                fallback_queues=fallback_queues,
                task_attributes=task_attributes,
                working_dir=working_dir,
                env=env,
            )
        task = Task(self, args, settings, name or None)
        for up in upstream_tasks or ():
            task.add_upstream(up)
        return task

    def create_tasks(
        self,
        max_attempts: Optional[int] = None,
        upstream_tasks: Optional[Iterable[Task]] = None,
        max_concurrently_running: int = MAX_CONCURRENTLY_RUNNING,
        compute_resources: Optional[Dict[str, Any]] = None,
        compute_resources_callable: Optional[Callable[..., Any]] = None,
        resource_scales: Optional[Dict[str, Any]] = None,
        cluster_name: str = "",
        name: Optional[str] = None,
        working_dir: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> List[Task]:
        """One task per combination of the node arg values (cross product, the first
        arg slowest); a node arg may be one value or an iterable of them, the other args
        one value each. Every task depends on each of `upstream_tasks`."""
        label = f"tasks of template {self.template_name!r}"
        if name is not None and name != self.template_name:
            raise NotSupportedError(
                f"{label}: name={name!r} is not supported: Drover's array of a template's tasks "
                "is the template itself; name tasks one by one with create_task(name=...)"
            )
        if max_concurrently_running != MAX_CONCURRENTLY_RUNNING:
            self.max_concurrently_running = res.positive_int(
                max_concurrently_running, f"{label}: max_concurrently_running", minimum=0
            )
        self._check_args(label, kwargs.keys())
        looped: List[str] = []
        lists: List[List[str]] = []
        base: Dict[str, str] = {}
        for key, value in kwargs.items():
            where = f"{label}: arg {key!r}"
            if key in self.node_args and not isinstance(value, SCALARS):
                looped.append(key)
                lists.append([arg_string(v, where) for v in value])
            elif isinstance(value, SCALARS) or value is None:
                base[key] = arg_string(value, where)
            else:
                raise SpecError(f"{where}: only node args may be given several values")
        settings = self._settings(
            label,
            max_attempts=max_attempts,
            compute_resources=compute_resources,
            compute_resources_callable=compute_resources_callable,
            resource_scales=resource_scales,
            cluster_name=cluster_name,
            working_dir=working_dir,
            env=env,
        )
        ups = list(upstream_tasks or ())
        for up in ups:
            if not isinstance(up, Task):
                raise TypeError(f"{label}: an upstream task must be a Task, not {up!r}")
        # Each task's args in the template's order, whatever order kwargs came in.
        order = self.arg_order
        tasks: List[Task] = []
        for combo in itertools.product(*lists):
            values = dict(zip(looped, combo))
            values.update(base)
            task = Task(self, {a: values[a] for a in order}, settings)
            if ups:
                task._up = ups.copy()
                for up in ups:
                    if up._down is None:
                        up._down = []
                    up._down.append(task)
            tasks.append(task)
        return tasks

    def _arg_values(self, kwargs: Mapping[str, Any], label: object) -> Dict[str, str]:
        """Every arg as a string, in the template's order. Strings and ints, nearly every
        value, are done here: this runs once per task, up to millions of times."""
        out: Dict[str, str] = {}
        for a in self.arg_order:
            v = kwargs[a]
            kind = type(v)
            if kind is str:
                out[a] = v
            elif kind is int:
                out[a] = str(v)
            else:
                out[a] = arg_string(v, f"{label}: arg {a!r}")
        return out

    def _check_args(self, label: str, given: Iterable[str]) -> None:
        given = set(given)
        unexpected = sorted(given - self._arg_set)
        missing = [a for a in self.arg_order if a not in given]
        problems = [
            f"arg {a!r} is not an arg of template {self.template_name!r}" for a in unexpected
        ]
        problems += [f"arg {a!r} is missing" for a in missing]
        if problems:
            raise SpecError(f"{label}: " + "; ".join(problems))

    def _settings(
        self,
        label: str,
        max_attempts: Optional[int] = None,
        compute_resources: Any = None,
        compute_resources_callable: Any = None,
        resource_scales: Any = None,
        cluster_name: str = "",
        fallback_queues: Optional[List[str]] = None,
        task_attributes: Any = None,
        working_dir: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
    ) -> Mapping[str, Any]:
        """The task fields of the spec (SPEC.md §1) these arguments set."""
        if compute_resources_callable is not None:
            raise NotSupportedError(
                f"{label}: compute_resources_callable is not supported: Drover sizes a task "
                "when the workflow is submitted, not when the task starts"
            )
        out: Dict[str, Any] = {}
        if max_attempts is not None:
            out["max_attempts"] = res.positive_int(max_attempts, f"{label}: max_attempts")
        if compute_resources is not None:
            r = res.compute_resources(compute_resources, f"{label}: compute_resources")
            if r:
                out["resources"] = r
        if cluster_name:
            out["cluster"] = res.cluster(cluster_name)
        if task_attributes:
            out["attributes"] = res.attributes(task_attributes, f"{label}: task_attributes")
        if resource_scales:
            out["resource_scales"] = res.resource_scales(
                resource_scales, f"{label}: resource_scales"
            )
        if fallback_queues is not None:
            out["fallback_queues"] = [str(q) for q in fallback_queues]
        out.update(where(working_dir, env, label))
        return out or NO_SETTINGS

    def to_spec(self, workflow_cluster: str, workflow_scales: Mapping[str, Any]) -> Dict[str, Any]:
        """The template as it goes into the spec: its cluster's defaults apply (its own
        cluster, else the workflow's), and the workflow's resource scales where it sets
        none (Drover has no workflow-level scales)."""
        spec: Dict[str, Any] = {
            "name": self.template_name,
            "command": self.command_template,
            "node_args": self.node_args,
            "task_args": self.task_args,
            "op_args": self.op_args,
        }
        own = self.default_cluster_name
        if own:
            spec["cluster"] = res.cluster(own)
        on = own or workflow_cluster
        if self._resources.get(on):
            spec["resources"] = self._resources[on]
        scales = {**workflow_scales, **self._scales.get(on, {})}
        if scales:
            spec["resource_scales"] = scales
        if self.default_max_attempts is not None:
            spec["max_attempts"] = self.default_max_attempts
        if self.max_concurrently_running is not None:
            spec["max_concurrently_running"] = self.max_concurrently_running
        spec.update(self.where)
        return spec

    def __repr__(self) -> str:
        return f"TaskTemplate({self.template_name!r}, {self.command_template!r})"


def _arg_list(names: Any, label: str, what: str) -> List[str]:
    if names is None:
        return []
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise SpecError(f"{label}: {what} must be a list of arg names, not {names!r}")
    out = list(names)
    for n in out:
        check_arg_name(n, f"{label} {what}")
    return out


class _TaskLabel:
    """How errors name a task: made into text only when there is an error."""

    __slots__ = ("template", "name")

    def __init__(self, template: str, name: str) -> None:
        self.template = template
        self.name = name

    def __str__(self) -> str:
        return f"task {self.name!r}" if self.name else f"task of template {self.template!r}"
