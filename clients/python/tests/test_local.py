"""Workflows run on a real stack, on cluster `local` (real processes) and `dummy`."""

import os
import threading
import time
import unittest

from drover import Tool, WorkflowAlreadyExists
from drover.constants import WorkflowStatus

from stack import drover, fork_join, instances, lines, require_stack, scratch, unique

MiB = 1024**2


def setUpModule():
    require_stack()


class ForkJoinTest(unittest.TestCase):
    def test_retries_a_failure_resume_and_a_done_workflow(self):
        d = scratch(self)
        args = unique("fork-join")
        wf, t = fork_join(args, "multiprocess", d)  # Jobmon's name for `local`
        wf.bind()
        self.assertIsInstance(wf.workflow_id, int)
        self.assertEqual(
            drover("status", str(wf.workflow_id))["status"], "REGISTERING", "bound, held"
        )

        self.assertEqual(wf.run(), WorkflowStatus.FAILED)
        counts = wf.last_status["counts"]
        self.assertEqual((counts["DONE"], counts["ERROR_FATAL"]), (5, 1), counts)
        loc = {x.args["location"]: x for x in t["locations"]}
        self.assertEqual([loc["3"].final_status, wf.task_state(loc["3"])["attempts"]], ["D", 2])
        self.assertEqual([loc["4"].final_status, wf.task_state(loc["4"])["attempts"]], ["F", 2])
        self.assertEqual(t["summary"].final_status, "G", "never ran")
        self.assertEqual(lines(os.path.join(d, "runs-4")), ["4", "4"])

        # Resources: workflow default < template < task; Jobmon's units.
        requested = {
            name: instances(task.task_id)[0]["memory_requested"]
            for name, task in [("prep", t["prep"]), ("loc1", loc["1"]), ("loc2", loc["2"])]
        }
        self.assertEqual(requested, {"prep": 256 * MiB, "loc1": 300 * MiB, "loc2": 512 * MiB})

        # The script runs again: the workflow exists and has failed.
        again, _ = fork_join(args, "multiprocess", d)
        with self.assertRaises(WorkflowAlreadyExists) as refused:
            again.run()
        self.assertEqual(refused.exception.workflow_id, wf.workflow_id)
        self.assertRegex(str(refused.exception), "FAILED")

        open(os.path.join(d, "fixed"), "w").close()
        resumed, t2 = fork_join(args, "multiprocess", d)
        self.assertEqual(resumed.run(resume=True), WorkflowStatus.DONE)
        self.assertEqual(resumed.workflow_id, wf.workflow_id)
        self.assertEqual(lines(os.path.join(d, "runs-prep")), ["prep"], "DONE tasks are kept")
        self.assertEqual(lines(os.path.join(d, "runs-1")), ["1"])
        self.assertEqual(lines(os.path.join(d, "runs-4")), ["4", "4", "4"])
        self.assertEqual(sorted(lines(os.path.join(d, "summary"))), ["1", "2", "3", "4", "5"])
        self.assertEqual(t2["summary"].final_status, "D")

        # DONE: submitting it again runs nothing.
        done, _ = fork_join(args, "multiprocess", d)
        self.assertEqual(done.run(), WorkflowStatus.DONE)
        self.assertEqual(done.workflow_id, wf.workflow_id)
        self.assertEqual(lines(os.path.join(d, "runs-prep")), ["prep"])

    def test_a_workflow_over_its_timeout_is_halted(self):
        tool = Tool(unique("timeout"))
        t = tool.get_task_template(
            template_name="slow", command_template="sleep {s}", node_args=["s"]
        )
        wf = tool.create_workflow(workflow_args=unique("timeout"), default_cluster_name="local")
        wf.add_task(t.create_task(s=60))
        started = time.monotonic()
        self.assertEqual(wf.run(seconds_until_timeout=2), WorkflowStatus.HALTED)
        self.assertLess(time.monotonic() - started, 40)


class ResourceScalesTest(unittest.TestCase):
    def test_memory_grows_as_the_scales_say_after_each_memory_kill(self):
        tool = Tool(unique("scales"))
        oom = tool.get_task_template(
            template_name="oom",
            command_template="run {n} @dummy:oom",
            node_args=["n"],
            default_cluster_name="dummy",
            default_compute_resources={"memory": 1, "runtime": 60},
        )
        wf = tool.create_workflow(workflow_args=unique("scales"), default_cluster_name="dummy")
        factor = oom.create_task(n=1, max_attempts=3, resource_scales={"memory": 0.5})
        listed = oom.create_task(n=2, max_attempts=3, resource_scales={"memory": iter([3, 5])})
        wf.add_tasks([factor, listed])
        self.assertEqual(wf.run(), WorkflowStatus.FAILED)
        GiB = 1024**3
        self.assertEqual(
            [i["memory_requested"] for i in instances(factor.task_id)], [GiB, 1.5 * GiB, 2.25 * GiB]
        )
        self.assertEqual(
            [i["memory_requested"] for i in instances(listed.task_id)], [GiB, 3 * GiB, 5 * GiB]
        )


def timed_template(tool, name="busy"):
    """Each task records when it started and ended, as seconds since the epoch."""
    return tool.get_task_template(
        template_name=name,
        command_template="date +%s.%N > {dir}/start-{i}; sleep {secs}; date +%s.%N > {dir}/end-{i}",
        node_args=["i"],
        op_args=["dir", "secs"],
    )


def most_at_once(folder, n):
    events = []
    for i in range(n):
        with open(os.path.join(folder, f"start-{i}")) as f:
            events.append((float(f.read()), 1))
        with open(os.path.join(folder, f"end-{i}")) as f:
            events.append((float(f.read()), -1))
    running = peak = 0
    for _, change in sorted(events):
        running += change
        peak = max(peak, running)
    return peak


class ConcurrencyTest(unittest.TestCase):
    def test_the_workflow_limit(self):
        d = scratch(self)
        tool = Tool(unique("limit"))
        t = timed_template(tool)
        wf = tool.create_workflow(
            workflow_args=unique("limit"), default_cluster_name="local", max_concurrently_running=1
        )
        wf.add_tasks(t.create_tasks(i=range(3), dir=d, secs=0.5))
        self.assertEqual(wf.run(), "D")
        self.assertEqual(most_at_once(d, 3), 1)

    def test_a_template_paused_then_raised_while_it_runs(self):
        d = scratch(self)
        tool = Tool(unique("live"))
        t = timed_template(tool)
        wf = tool.create_workflow(workflow_args=unique("live"), default_cluster_name="local")
        wf.add_tasks(t.create_tasks(i=range(4), dir=d, secs=0.5))
        wf.set_task_template_max_concurrency_limit("busy", 0)
        wf.bind()
        ended = {}
        runner = threading.Thread(
            target=lambda: ended.update(status=wf.run(seconds_until_timeout=90))
        )
        runner.start()
        time.sleep(3)
        self.assertEqual(wf.status()["counts"]["DONE"], 0, "paused")
        self.assertEqual([f for f in os.listdir(d) if f.startswith("start-")], [])
        wf.set_task_template_max_concurrency_limit("busy", 2)
        runner.join(90)
        self.assertEqual(ended.get("status"), "D")
        self.assertEqual(most_at_once(d, 4), 2)


if __name__ == "__main__":
    unittest.main()
