"""The DAG of the identity test (clients/python/python.test.ts), built with the Jobmon
API: prep → one model task per location → summary, on cluster dummy. The harness builds
the same DAG as YAML and with the TypeScript client and compares what the stack stored.

Usage: python identity_dag.py '{"lang": …, "locations": […], "run": false}'
Prints {"id": workflow id, "status": its status letter after bind() or run()}."""

import json
import sys

from drover import Tool
from drover.constants import workflow_letter


def main() -> None:
    options = json.loads(sys.argv[1])
    lang = options["lang"]
    tool = Tool("identity")
    prep = tool.get_task_template(
        template_name="prep",
        command_template="prep --year {year} --out {out}",
        task_args=["year"],
        op_args=["out"],
    )
    model = tool.get_task_template(
        template_name="model",
        command_template="model --loc {location} --year {year}",
        node_args=["location"],
        task_args=["year"],
    )
    summary = tool.get_task_template(
        template_name="summary", command_template="summary --out {out}", op_args=["out"]
    )
    wf = tool.create_workflow(
        workflow_args={"lang": lang}, name="identity", default_cluster_name="dummy"
    )
    p = prep.create_task(year=2020, out=f"/data/{lang}")
    models = model.create_tasks(location=options["locations"], year=2020, upstream_tasks=[p])
    s = summary.create_task(out=f"/data/{lang}", upstream_tasks=models)
    wf.add_tasks([p, *models, s])
    if options.get("run"):
        status = wf.run()
    else:
        wf.bind()
        status = workflow_letter(wf.status()["status"])
    print(json.dumps({"id": wf.workflow_id, "status": status}))


if __name__ == "__main__":
    main()
