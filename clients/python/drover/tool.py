"""A tool: the named program whose templates make up workflows (Jobmon's Tool)."""

from __future__ import annotations

import getpass
from typing import Any, Dict, List, Optional, Union

from . import resources as res
from .cluster_defaults import ClusterDefaults
from .constants import MAX_CONCURRENTLY_RUNNING
from .errors import NotSupportedError, SpecError
from .template import TaskTemplate
from .values import check_name, where
from .workflow import Workflow


class Tool(ClusterDefaults):
    """`Tool(name)`. A workflow's identity is its tool (name and version) and its
    workflow_args. Jobmon's versions are database ids picked with
    `active_tool_version_id`; Drover's is a string in the spec, "1" unless given."""

    def __init__(
        self,
        name: Optional[str] = None,
        active_tool_version_id: Union[str, int] = "latest",
        requester: Any = None,
    ) -> None:
        if requester is not None:
            raise NotSupportedError(
                "Tool(requester=...) is not supported: the client talks to Drover through "
                "the `drover` command (DROVER_CLI), not over HTTP"
            )
        self.name = name if name is not None else f"unknown-{getpass.getuser()}"
        check_name("tool", self.name)
        self.version = "1" if active_tool_version_id == "latest" else str(active_tool_version_id)
        if self.version == "":
            raise SpecError("active_tool_version_id must not be empty")
        self.default_cluster_name = ""
        self.default_max_attempts: Optional[int] = None
        self._resources: Dict[str, Dict[str, Any]] = {}
        self._scales: Dict[str, Dict[str, Any]] = {}
        self._templates: Dict[str, TaskTemplate] = {}

    @property
    def active_task_templates(self) -> Dict[str, TaskTemplate]:
        return dict(self._templates)

    @property
    def templates(self) -> List[TaskTemplate]:
        """The templates in the order they were defined."""
        return list(self._templates.values())

    def get_task_template(
        self,
        template_name: str,
        command_template: str,
        node_args: Optional[List[str]] = None,
        task_args: Optional[List[str]] = None,
        op_args: Optional[List[str]] = None,
        default_cluster_name: str = "",
        default_compute_resources: Optional[Dict[str, Any]] = None,
        default_resource_scales: Optional[Dict[str, Any]] = None,
        yaml_file: Optional[str] = None,
        max_attempts: Optional[int] = None,
        working_dir: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
    ) -> TaskTemplate:
        """The template of this name, made or updated. Its command and args cannot change:
        a workflow runs one version of each template."""
        if yaml_file is not None:
            raise NotSupportedError(f"get_task_template(yaml_file=...): {res.NO_YAML}")
        if (default_compute_resources or default_resource_scales) and not default_cluster_name:
            raise SpecError(
                f"template {template_name!r}: default_cluster_name is required with "
                "default_compute_resources or default_resource_scales"
            )
        tt = self._templates.get(template_name)
        if tt is None:
            tt = TaskTemplate(self, template_name, command_template, node_args, task_args, op_args)
            self._templates[template_name] = tt
        elif not tt.same_definition(command_template, node_args, task_args, op_args):
            raise SpecError(
                f"template {template_name!r} is already defined in tool {self.name!r} with "
                "another command_template or other args; a workflow runs one version of a "
                "template: give this one another name"
            )
        tt.default_cluster_name = default_cluster_name
        if default_compute_resources:
            tt.set_default_compute_resources_from_dict(
                default_cluster_name, default_compute_resources
            )
        if default_resource_scales:
            tt.set_default_resource_scales_from_dict(default_cluster_name, default_resource_scales)
        # As in Jobmon, each call sets it: None leaves the workflow's default to apply.
        tt.default_max_attempts = (
            None
            if max_attempts is None
            else res.positive_int(max_attempts, f"template {template_name!r}: max_attempts")
        )
        # Drover's (SPEC.md §4): where its tasks run and what they get over the environment.
        tt.where = where(working_dir, env, f"template {template_name!r}")
        return tt

    def create_workflow(
        self,
        workflow_args: Union[str, Dict[str, Any]] = "",
        name: str = "",
        description: str = "",
        workflow_attributes: Any = None,
        max_concurrently_running: int = MAX_CONCURRENTLY_RUNNING,
        chunk_size: int = 500,
        default_cluster_name: str = "",
        default_compute_resources_set: Optional[Dict[str, Dict[str, Any]]] = None,
        default_resource_scales_set: Optional[Dict[str, Any]] = None,
        default_max_attempts: Optional[int] = None,
        working_dir: Optional[str] = None,
        env: Optional[Dict[str, Any]] = None,
    ) -> Workflow:
        """A workflow of this tool; the tool's defaults apply where it sets none."""
        cluster = default_cluster_name or self.default_cluster_name
        wf = Workflow(
            self,
            workflow_args=workflow_args,
            name=name,
            description=description,
            workflow_attributes=workflow_attributes,
            max_concurrently_running=max_concurrently_running,
            chunk_size=chunk_size,
            default_cluster_name=cluster,
            default_max_attempts=_first(default_max_attempts, self.default_max_attempts),
        )
        wf.where = where(working_dir, env, "workflow")
        if default_compute_resources_set:
            for cl, values in default_compute_resources_set.items():
                wf.set_default_compute_resources_from_dict(cl, values)
        else:
            for cl, values in self._resources.items():
                wf.set_converted_resources(cl, values)
        if default_resource_scales_set:
            # Jobmon's argument is {resource: scale}, for the workflow's default cluster.
            wf.set_default_resource_scales_from_dict(cluster, default_resource_scales_set)
        else:
            for cl, values in self._scales.items():
                wf.set_converted_scales(cl, values)
        return wf

    def set_default_cluster_name(self, cluster_name: str) -> None:
        self.default_cluster_name = cluster_name

    def set_default_max_attempts(self, value: int) -> None:
        self.default_max_attempts = res.positive_int(value, f"tool {self.name!r}: max_attempts")

    @property
    def _defaults_owner(self) -> str:
        return f"tool {self.name!r}"

    def set_default_compute_resources_from_yaml(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(res.NO_YAML)

    def set_default_resource_scales_from_yaml(self, *args: Any, **kwargs: Any) -> None:
        raise NotSupportedError(res.NO_YAML)

    def __repr__(self) -> str:
        return f"Tool(name={self.name!r}, version={self.version!r})"


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)
