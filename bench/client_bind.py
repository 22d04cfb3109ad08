"""The Python side of `npm run bench -- python`: builds the location × year workflow with
the Jobmon API, a task at a time as a Jobmon script does, and binds it (`drover submit
--hold` through the CLI). Prints {"id", "tasks", "build", "bind"} (seconds).

Usage: python bench/client_bind.py SIDE    (SIDE locations, SIDE² model tasks)"""

import json
import sys
import time

from drover import Tool


def main() -> None:
    side = int(sys.argv[1])
    t0 = time.perf_counter()
    tool = Tool("bench")
    prep = tool.get_task_template(
        template_name="prep", command_template="prep --loc {location}", node_args=["location"]
    )
    model = tool.get_task_template(
        template_name="model",
        command_template="model --loc {location} --year {year}",
        node_args=["location", "year"],
    )
    wf = tool.create_workflow(name=f"python bench {side}", default_cluster_name="dummy")
    for location in range(1, side + 1):
        p = prep.create_task(location=location)
        wf.add_task(p)
        for year in range(1990, 1990 + side):
            wf.add_task(model.create_task(location=location, year=year, upstream_tasks=[p]))
    t1 = time.perf_counter()
    wf.bind()
    t2 = time.perf_counter()
    result = {"id": wf.workflow_id, "tasks": len(wf.tasks), "build": t1 - t0, "bind": t2 - t1}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
