"""The fork-join workflow on the real Slurm (a slurm-bridge started by the harness):
array jobs, a retried task, a failure, then a resume."""

import os
import unittest

from drover.constants import WorkflowStatus

from stack import drover, fork_join, instances, lines, require_stack, scratch, unique

MiB = 1024**2


def setUpModule():
    require_stack()


class SlurmForkJoinTest(unittest.TestCase):
    def test_fork_join_fails_then_resumes_to_done(self):
        d = scratch(self)
        args = unique("slurm-fork-join")
        wf, t = fork_join(args, "slurm", d, queue="debug", tool="fork_join_slurm")
        # Bounded, so that a Slurm too busy to run it fails the test with the counts.
        self.assertEqual(wf.run(seconds_until_timeout=270), WorkflowStatus.FAILED, wf.last_status)
        loc = {x.args["location"]: x for x in t["locations"]}
        self.assertEqual(
            {k: (x.final_status, wf.task_state(x)["attempts"]) for k, x in loc.items()},
            {"1": ("D", 1), "2": ("D", 1), "3": ("D", 2), "4": ("F", 2), "5": ("D", 1)},
        )
        first = instances(loc["1"].task_id)[0]
        self.assertEqual(first["memory_requested"], 300 * MiB)
        self.assertRegex(first["distributor_id"], r"^\d+(_\d+)?$", "a Slurm job (array) id")

        open(os.path.join(d, "fixed"), "w").close()
        resumed, _ = fork_join(args, "slurm", d, queue="debug", tool="fork_join_slurm")
        status = resumed.run(resume=True, seconds_until_timeout=270)
        self.assertEqual(status, WorkflowStatus.DONE, resumed.last_status)
        self.assertEqual(resumed.workflow_id, wf.workflow_id)
        self.assertEqual(lines(os.path.join(d, "runs-prep")), ["prep"])
        self.assertEqual(sorted(lines(os.path.join(d, "summary"))), ["1", "2", "3", "4", "5"])
        self.assertEqual(drover("status", str(wf.workflow_id))["counts"]["DONE"], 7)


if __name__ == "__main__":
    unittest.main()
