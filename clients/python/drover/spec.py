"""A Workflow as a spec (SPEC.md §1), the document `drover submit` reads. The CLI
expands, checks and hashes it exactly as it does a YAML file, so the same DAG has the
same identity whichever language built it.

Each task is one entry with its args; an unnamed task gets the spec's default name, so
it is written without one. Upstream tasks are named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List

from . import resources as res
from .errors import SpecError

if TYPE_CHECKING:
    from .workflow import Workflow


def build_spec(wf: "Workflow") -> Dict[str, Any]:
    tasks = wf.closure()
    tool = wf.tool
    used = {t.template for t in tasks}
    for t in used:
        if t.tool is not tool:
            raise SpecError(
                f"template {t.template_name!r} belongs to tool {t.tool.name!r}, not {tool.name!r}"
            )
    default_resources, default_scales = wf.defaults_for_cluster()
    templates: List[Dict[str, Any]] = []
    for t in tool.templates:
        if t not in used:
            continue
        spec = t.to_spec(wf.default_cluster_name, default_scales)
        limit = wf.template_limit(t.template_name)
        if limit is not None:
            spec["max_concurrently_running"] = limit
        templates.append(spec)

    entries: List[Dict[str, Any]] = []
    append = entries.append
    for task in tasks:
        entry: Dict[str, Any] = {"template": task.template.template_name, "args": task.args}
        if task.given_name is not None:
            entry["name"] = task.given_name
        ups = task._up
        if ups:
            names = [u.name for u in ups]
            # Duplicates are harmless to the CLI but cost it time: a fan-in may be long.
            entry["upstream"] = names if len(names) == 1 else list(dict.fromkeys(names))
        if task.settings:
            entry.update(task.settings)
        append(entry)

    workflow: Dict[str, Any] = {"name": wf.name, "args": wf.identity}
    if wf.max_concurrently_running is not None:
        workflow["max_concurrently_running"] = wf.max_concurrently_running
    cluster = res.cluster(wf.default_cluster_name)
    if cluster:
        workflow["default_cluster"] = cluster
    if default_resources:
        workflow["default_resources"] = default_resources
    if wf.default_max_attempts is not None:
        workflow["default_max_attempts"] = wf.default_max_attempts
    if wf.workflow_attributes:
        workflow["attributes"] = wf.workflow_attributes
    workflow.update(wf.where)
    return {
        "tool": {"name": tool.name, "version": tool.version},
        "workflow": workflow,
        "templates": templates,
        "tasks": entries,
    }
