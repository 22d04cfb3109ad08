"""Jobmon arguments Drover has no equivalent for: each is refused with an error naming
it, or (when it only tunes Jobmon's own machinery) accepted with a warning. And the
unit conversions of the arguments that are mapped. No stack needed."""

import os
import unittest
import warnings
from unittest import mock

from drover import CliNotFoundError, DroverWarning, NotSupportedError, SpecError, Tool
from drover.resources import compute_resources, resource_scales


def template(tool=None):
    tool = tool or Tool("refused")
    return tool.get_task_template(template_name="t", command_template="t {a}", node_args=["a"])


class RefusedTest(unittest.TestCase):
    def test_resources_without_equivalent(self):
        t = template()
        for key in ("stdout", "stderr", "constraints", "gpus"):
            with self.subTest(key=key):
                with self.assertRaisesRegex(
                    NotSupportedError, rf"compute_resources\['{key}'\] is not supported"
                ):
                    t.create_task(a=1, compute_resources={key: "x"})
        with self.assertRaisesRegex(NotSupportedError, "logs TASK"):
            t.create_task(a=1, compute_resources={"stdout": "/tmp/out"})

    def test_computed_resources(self):
        t = template()
        with self.assertRaisesRegex(
            NotSupportedError, "compute_resources_callable is not supported"
        ):
            t.create_task(a=1, compute_resources_callable=lambda: {"memory": "1G"})
        with self.assertRaisesRegex(NotSupportedError, "a function as compute_resources"):
            t.create_task(a=1, compute_resources=lambda: {"memory": "1G"})

    def test_scales_without_equivalent(self):
        t = template()
        with self.assertRaisesRegex(NotSupportedError, r"resource_scales\['memory'\]: a function"):
            t.create_task(a=1, resource_scales={"memory": lambda m: m * 2})
        with self.assertRaisesRegex(
            NotSupportedError, r"resource_scales\['cores'\] is not supported"
        ):
            t.create_task(a=1, resource_scales={"cores": 0.5})
        with self.assertRaisesRegex(NotSupportedError, "cannot be copied"):
            t.create_task(a=1, resource_scales={"runtime": (x for x in [100, 200])})
        with self.assertRaisesRegex(SpecError, "factor 0 must be more than zero"):
            t.create_task(a=1, resource_scales={"runtime": 0})

    def test_yaml_files(self):
        tool = Tool("yaml")
        with self.assertRaisesRegex(NotSupportedError, "yaml_file"):
            tool.get_task_template(template_name="t", command_template="t", yaml_file="r.yaml")
        with self.assertRaisesRegex(NotSupportedError, "YAML"):
            tool.set_default_compute_resources_from_yaml("slurm", "r.yaml")
        with self.assertRaisesRegex(NotSupportedError, "YAML"):
            template(tool).set_default_resource_scales_from_yaml("r.yaml")

    def test_requester_and_array_names(self):
        with self.assertRaisesRegex(NotSupportedError, "requester"):
            Tool("r", requester=object())
        with self.assertRaisesRegex(NotSupportedError, "name='array' is not supported"):
            template().create_tasks(a=[1, 2], name="array")

    def test_cluster_is_required_with_template_resources(self):
        with self.assertRaisesRegex(SpecError, "default_cluster_name is required"):
            Tool("c").get_task_template(
                template_name="t", command_template="t", default_compute_resources={"memory": 1}
            )

    def test_arguments_of_jobmon_machinery_warn(self):
        tool = Tool("warn")
        with self.assertWarnsRegex(DroverWarning, "chunk_size has no effect"):
            tool.create_workflow(workflow_args="w", chunk_size=100)
        wf = tool.create_workflow(workflow_args="w")
        wf.add_task(template(tool).create_task(a=1))
        with mock.patch.dict(
            os.environ, {"DROVER_CLI": "/nonexistent/drover", "PATH": "/nonexistent"}
        ):
            for arg in ("distributor_startup_timeout", "resume_timeout"):
                with self.subTest(arg=arg):
                    with self.assertWarnsRegex(DroverWarning, f"{arg} has no effect"):
                        with self.assertRaises(CliNotFoundError):
                            wf.run(**{arg: 1})
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                with self.assertRaises(CliNotFoundError):
                    wf.run()  # the defaults warn of nothing

    def test_a_missing_cli_says_where_to_put_it(self):
        wf = Tool("nocli").create_workflow(workflow_args="w")
        wf.add_task(template(wf.tool).create_task(a=1))
        with mock.patch.dict(os.environ, {"DROVER_CLI": "", "PATH": "/nonexistent"}):
            with self.assertRaisesRegex(CliNotFoundError, "DROVER_CLI"):
                wf.bind()


class UnitsTest(unittest.TestCase):
    def test_memory_in_jobmon_forms(self):
        for given, spec in [
            (2, 2),
            ("100", 100),
            ("1Gb", "1Gb"),
            ("500M", "500M"),
            ("2gib", "2gib"),
            ("1.5G", "1.5G"),
            ("2048b", "2K"),
        ]:
            with self.subTest(given=given):
                self.assertEqual(compute_resources({"memory": given}, "r"), {"memory": spec})
        with self.assertRaisesRegex(SpecError, r"r\['memory'\]: memory 'lots' is not an amount"):
            compute_resources({"memory": "lots"}, "r")

    def test_runtime_in_jobmon_forms(self):
        for given, spec in [
            (3600, 3600),
            ("01:30:00", "01:30:00"),
            ("1-00:00:00", "1-00:00:00"),
            ("90s", "90s"),
            ("10m", "10m"),
            ("2hr", 7200),
            ("30min", 1800),
            ("45 seconds", 45),
            ("2 days", 172800),
        ]:
            with self.subTest(given=given):
                self.assertEqual(compute_resources({"runtime": given}, "r"), {"runtime": spec})
        with self.assertRaisesRegex(SpecError, "runtime '5 fortnights' is not a duration"):
            compute_resources({"runtime": "5 fortnights"}, "r")

    def test_other_keys_and_aliases(self):
        self.assertEqual(
            compute_resources(
                {
                    "num_cores": "4",
                    "m_mem_free": "3G",
                    "max_runtime_seconds": 60,
                    "queue": "all.q",
                    "project": "p",
                },
                "r",
            ),
            {"cores": 4, "memory": "3G", "runtime": 60, "queue": "all.q", "project": "p"},
        )
        with self.assertRaisesRegex(SpecError, "cores is given twice"):
            compute_resources({"cores": 1, "num_cores": 2}, "r")

    def test_scales(self):
        it = iter([3, 5])
        self.assertEqual(
            resource_scales({"memory": it, "runtime": 0.5}, "s"), {"memory": [3, 5], "runtime": 0.5}
        )
        self.assertEqual(next(it), 3, "the caller's iterator is left whole")
        self.assertEqual(resource_scales({"runtime": ["1h", 7200]}, "s"), {"runtime": ["1h", 7200]})


if __name__ == "__main__":
    unittest.main()
