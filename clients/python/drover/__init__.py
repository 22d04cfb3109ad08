"""Drover's Python client, with Jobmon's API: a Jobmon script runs on Drover with
`from drover import Tool` in place of `from jobmon.client.tool import Tool`.

    from drover import Tool

    tool = Tool("burden")
    model = tool.get_task_template(
        template_name="model",
        command_template="python model.py --loc {location}",
        node_args=["location"],
        default_cluster_name="slurm",
        default_compute_resources={"memory": "2G", "runtime": "30m", "queue": "all.q"},
    )
    wf = tool.create_workflow(workflow_args="burden-2026", name="burden 2026")
    wf.add_tasks(model.create_tasks(location=[1, 2, 3]))
    status = wf.run()   # "D" when every task is DONE

The workflow becomes a spec file (SPEC.md §1) handed to the `drover` command; see
clients/python/README.md for what maps to what and what is refused."""

from .constants import TaskStatus, WorkflowStatus
from .errors import (
    CliError,
    CliNotFoundError,
    DroverError,
    DroverWarning,
    DuplicateNodeArgsError,
    NotSupportedError,
    SpecError,
    WorkflowAlreadyExists,
)
from .task import Task
from .template import TaskTemplate
from .tool import Tool
from .workflow import Workflow

__version__ = "0.1.0"

__all__ = [
    "CliError",
    "CliNotFoundError",
    "DroverError",
    "DroverWarning",
    "DuplicateNodeArgsError",
    "NotSupportedError",
    "SpecError",
    "Task",
    "TaskStatus",
    "TaskTemplate",
    "Tool",
    "Workflow",
    "WorkflowAlreadyExists",
    "WorkflowStatus",
]
