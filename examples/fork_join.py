"""Drover's fork-join example with the Python client: a prep task, then one task per
location (they run in parallel), then a summary once every location is done.

Run it with a stack up (drover up) and the client installed
(pip install --no-build-isolation --no-index clients/python):

    python3 examples/fork_join.py [OUTDIR] [--locations N] [--cluster local|slurm]

Running it again with the same OUTDIR is the same workflow: once DONE it runs nothing;
after a failure, --resume runs what did not finish."""

import argparse
import os
import sys

from drover import Tool

HERE = os.path.dirname(os.path.abspath(__file__))


def fork_join_workflow(out: str, locations: int = 10, cluster: str = "local"):
    tool = Tool("fork_join_example")
    # The interpreter and the script are op args: where they live is not part of what a
    # task is, so moving the checkout does not make it a different workflow.
    step = "{python} {script} "
    op = ["python", "script", "out"]
    prep = tool.get_task_template(
        template_name="prep", command_template=step + "prep --out {out}", op_args=op
    )
    location = tool.get_task_template(
        template_name="location",
        command_template=step + "location --loc {location} --out {out}",
        node_args=["location"],
        op_args=op,
        default_cluster_name=cluster,
        default_compute_resources={"memory": "256M", "runtime": "5m", "cores": 1},
    )
    summary = tool.get_task_template(
        template_name="summary", command_template=step + "summary --out {out}", op_args=op
    )
    wf = tool.create_workflow(
        workflow_args=f"fork-join {os.path.abspath(out)}",
        name="fork-join example",
        default_cluster_name=cluster,
        workflow_attributes={"example": "fork_join.py"},
    )
    common = {"python": sys.executable, "script": os.path.join(HERE, "bin", "fork_join_task.py")}
    p = prep.create_task(out=out, **common)
    locs = location.create_tasks(
        location=range(1, locations + 1), out=out, upstream_tasks=[p], max_attempts=3, **common
    )
    s = summary.create_task(out=out, upstream_tasks=locs, **common)
    wf.add_tasks([p, *locs, s])
    return wf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="/tmp/drover-fork-join")
    parser.add_argument("--locations", type=int, default=10)
    parser.add_argument("--cluster", default="local")
    parser.add_argument("--resume", action="store_true")
    a = parser.parse_args()
    os.makedirs(a.out, exist_ok=True)
    wf = fork_join_workflow(os.path.abspath(a.out), a.locations, a.cluster)
    status = wf.run(resume=a.resume, configure_logging=True)
    print(f"workflow {wf.workflow_id}: {status}; results in {os.path.join(a.out, 'summary.csv')}")
    sys.exit(0 if status == "D" else 1)


if __name__ == "__main__":
    main()
