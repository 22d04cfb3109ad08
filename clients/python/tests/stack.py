"""What the tests that run workflows share: the stack they need (started by
clients/python/python.test.ts), a fork-join workflow, and reading the stack back."""

import os
import shutil
import stat
import tempfile
import uuid
from typing import Any, Dict, List

from drover import Tool
from drover.cli import run_cli

NEEDED = ("DROVER_CLI", "DROVER_NATS_URL", "DROVER_DATABASE_URL")


def require_stack() -> None:
    missing = [v for v in NEEDED if not os.environ.get(v)]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not set: run these tests with "
            "`npm test -- clients/python/python.test.ts`, which starts a stack"
        )


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def scratch(test) -> str:
    """A folder the stack's commands can write to, removed after the test."""
    d = tempfile.mkdtemp(prefix="drover-py-")
    os.chmod(d, 0o777)
    test.addCleanup(shutil.rmtree, d, True)
    return d


def drover(*args: str) -> Dict[str, Any]:
    return run_cli(list(args))[1]


def instances(task_id: int) -> List[Dict[str, Any]]:
    return drover("task", str(task_id))["instances"]


def lines(path: str) -> List[str]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().split()


# Location 3 fails its first attempt (retried); location 4 fails every attempt until
# the file `fixed` exists. Every run of a location appends to runs-LOC.
LOCATION_SCRIPT = """#!/bin/sh
loc=$1 dir=$2
echo "$loc" >> "$dir/runs-$loc"
if [ "$loc" = 3 ] && [ ! -e "$dir/flaky-3" ]; then
  touch "$dir/flaky-3"; echo "location 3: flaky" >&2; exit 3
fi
if [ "$loc" = 4 ] && [ ! -e "$dir/fixed" ]; then
  echo "location 4: no input" >&2; exit 4
fi
echo "$loc" > "$dir/out-$loc"
"""

LOCATIONS = [1, 2, 3, 4, 5]


def fork_join(
    workflow_args: str, cluster: str, folder: str, queue: str = "all.q", tool: str = "fork_join"
):
    """prep → one task per location → summary, with resources at every level, written as
    a Jobmon script would write it. Returns the workflow and its tasks by role."""
    script = os.path.join(folder, "location.sh")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(LOCATION_SCRIPT)
        os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR | stat.S_IRGRP | stat.S_IROTH)
    t = Tool(tool)
    prep = t.get_task_template(
        template_name="prep",
        command_template="echo prep >> {dir}/runs-prep",
        op_args=["dir"],
    )
    location = t.get_task_template(
        template_name="location",
        command_template="sh {script} {location} {dir}",
        node_args=["location"],
        op_args=["script", "dir"],
        default_cluster_name=cluster,
        default_compute_resources={"memory": 0.5, "runtime": "10m", "queue": queue},
        max_attempts=2,
    )
    summary = t.get_task_template(
        template_name="summary",
        command_template="cat {dir}/out-* > {dir}/summary",
        op_args=["dir"],
    )
    wf = t.create_workflow(
        workflow_args=workflow_args,
        name="python fork-join",
        default_cluster_name=cluster,
        default_compute_resources_set={
            cluster: {"memory": "256M", "runtime": "5m", "cores": 1, "queue": queue}
        },
    )
    p = prep.create_task(dir=folder)
    locs = [
        location.create_task(
            location=loc,
            script=script,
            dir=folder,
            upstream_tasks=[p],
            compute_resources={"memory": "300M"} if loc == 1 else None,
            max_attempts=3 if loc == 3 else None,
        )
        for loc in LOCATIONS
    ]
    s = summary.create_task(dir=folder, upstream_tasks=locs)
    wf.add_tasks([p, *locs, s])
    return wf, {"prep": p, "locations": locs, "summary": s}
