"""Building workflows: the spec each builds (what a YAML file of it would say), and the
checks made where a mistake is written. No stack needed."""

import unittest

from drover import DuplicateNodeArgsError, SpecError, Tool
from drover.values import default_task_name


def fork_join(tool_name="fork_join", **workflow):
    tool = Tool(tool_name)
    prep = tool.get_task_template(
        template_name="prep",
        command_template="prep --year {year} --out {out}",
        task_args=["year"],
        op_args=["out"],
    )
    loc = tool.get_task_template(
        template_name="location",
        command_template="model --loc {location} --year {year}",
        node_args=["location"],
        task_args=["year"],
        default_cluster_name="multiprocess",
        default_compute_resources={"memory": 2, "runtime": "2hr", "queue": "all.q"},
        max_attempts=2,
    )
    summary = tool.get_task_template(template_name="summary", command_template="summarize")
    wf = tool.create_workflow(
        workflow_args="round-7",
        name="fork join",
        default_cluster_name="sequential",
        default_compute_resources_set={"sequential": {"memory": "512M", "cores": 1}},
        **workflow,
    )
    p = prep.create_task(year=2020, out="/data/out", name="prep_2020")
    locations = loc.create_tasks(location=[1, "New York"], year=2020, upstream_tasks=[p])
    s = summary.create_task(upstream_tasks=locations, compute_resources={"runtime": "00:10:00"})
    wf.add_tasks([p, *locations, s])
    return wf


class SpecTest(unittest.TestCase):
    def test_a_fork_join_is_the_spec_a_yaml_file_would_be(self):
        spec = fork_join().to_spec()
        self.assertEqual(
            spec,
            {
                "tool": {"name": "fork_join", "version": "1"},
                "workflow": {
                    "name": "fork join",
                    "args": {"workflow_args": "round-7"},
                    "default_cluster": "sequential",
                    "default_resources": {"memory": "512M", "cores": 1},
                },
                "templates": [
                    {
                        "name": "prep",
                        "command": "prep --year {year} --out {out}",
                        "node_args": [],
                        "task_args": ["year"],
                        "op_args": ["out"],
                    },
                    {
                        "name": "location",
                        "command": "model --loc {location} --year {year}",
                        "node_args": ["location"],
                        "task_args": ["year"],
                        "op_args": [],
                        "cluster": "local",
                        "resources": {"memory": 2, "runtime": 7200, "queue": "all.q"},
                        "max_attempts": 2,
                    },
                    {
                        "name": "summary",
                        "command": "summarize",
                        "node_args": [],
                        "task_args": [],
                        "op_args": [],
                    },
                ],
                "tasks": [
                    {
                        "template": "prep",
                        "args": {"year": "2020", "out": "/data/out"},
                        "name": "prep_2020",
                    },
                    {
                        "template": "location",
                        "args": {"location": "1", "year": "2020"},
                        "upstream": ["prep_2020"],
                    },
                    {
                        "template": "location",
                        "args": {"location": "New York", "year": "2020"},
                        "upstream": ["prep_2020"],
                    },
                    {
                        "template": "summary",
                        "args": {},
                        "upstream": ["location_location-1", "location_location-New_York"],
                        "resources": {"runtime": "00:10:00"},
                    },
                ],
            },
        )

    def test_workflow_settings(self):
        wf = fork_join(
            description="the 2026 round",
            workflow_attributes={"team": "gbd", "round": 7},
            max_concurrently_running=20,
            default_max_attempts=4,
        )
        wf.set_task_template_max_concurrency_limit("location", 0)
        spec = wf.to_spec()
        self.assertEqual(
            spec["workflow"]["attributes"],
            {"team": "gbd", "round": "7", "description": "the 2026 round"},
        )
        self.assertEqual(spec["workflow"]["max_concurrently_running"], 20)
        self.assertEqual(spec["workflow"]["default_max_attempts"], 4)
        self.assertEqual(spec["templates"][1]["max_concurrently_running"], 0)

    def test_workflow_args(self):
        tool = Tool("args_test")
        self.assertEqual(tool.create_workflow(workflow_args={"round": 7}).identity, {"round": "7"})
        anonymous = tool.create_workflow()
        # As in Jobmon: a new random identity, kept so that the workflow can be resumed.
        self.assertEqual(anonymous.identity, {"workflow_args": anonymous.workflow_args})
        self.assertNotEqual(anonymous.workflow_args, tool.create_workflow().workflow_args)

    def test_tool_defaults_apply_to_its_workflows(self):
        tool = Tool("defaults_test")
        tool.set_default_cluster_name("dummy")
        tool.set_default_compute_resources_from_dict("dummy", {"memory": "1G", "queue": "long.q"})
        tool.set_default_resource_scales_from_dict("dummy", {"memory": 0.25})
        tool.set_default_max_attempts(5)
        t = tool.get_task_template(template_name="t", command_template="echo {x}", node_args=["x"])
        wf = tool.create_workflow(workflow_args="d")
        wf.add_tasks(t.create_tasks(x=range(3)))
        spec = wf.to_spec()
        self.assertEqual(spec["workflow"]["default_cluster"], "dummy")
        self.assertEqual(spec["workflow"]["default_resources"], {"memory": "1G", "queue": "long.q"})
        self.assertEqual(spec["workflow"]["default_max_attempts"], 5)
        # Drover has no workflow-level scales: each template takes them.
        self.assertEqual(spec["templates"][0]["resource_scales"], {"memory": 0.25})

    def test_create_tasks_is_the_cross_product_of_the_node_args_first_slowest(self):
        tool = Tool("product")
        t = tool.get_task_template(
            template_name="m",
            command_template="m {loc} {year} {sex} {out}",
            node_args=["loc", "year", "sex"],
            op_args=["out"],
        )
        tasks = t.create_tasks(loc=[1, 2], year=(2020, 2021, 2022), sex="both", out="/o")
        self.assertEqual(len(tasks), 6)
        self.assertEqual(
            [(x.args["loc"], x.args["year"]) for x in tasks[:4]],
            [("1", "2020"), ("1", "2021"), ("1", "2022"), ("2", "2020")],
        )
        self.assertEqual(list(tasks[0].args), ["loc", "year", "sex", "out"])
        self.assertEqual(tasks[0].command, "m 1 2020 both /o")
        self.assertEqual(tasks[5].name, "m_loc-2_year-2022_sex-both")
        with self.assertRaisesRegex(
            SpecError, "arg 'out': only node args may be given several values"
        ):
            t.create_tasks(loc=[1], year=[1], sex="f", out=["/a", "/b"])

    def test_args_are_checked_where_the_task_is_made(self):
        tool = Tool("args")
        t = tool.get_task_template(
            template_name="t", command_template="t {a} {b}", node_args=["a"], op_args=["b"]
        )
        with self.assertRaisesRegex(SpecError, "arg 'b' is missing"):
            t.create_task(a=1)
        with self.assertRaisesRegex(SpecError, "arg 'c' is not an arg of template 't'"):
            t.create_task(a=1, b=2, c=3)
        with self.assertRaisesRegex(SpecError, "command_template uses d"):
            tool.get_task_template(template_name="u", command_template="u {d}", node_args=["a"])
        with self.assertRaisesRegex(SpecError, "task name 'has space' contains whitespace"):
            t.create_task(name="has space", a=1, b=2)
        # Values are Python's str(), as Jobmon renders them.
        self.assertEqual(t.create_task(a=True, b=1.0).command, "t True 1.0")

    def test_a_template_keeps_its_command_and_args(self):
        tool = Tool("versions")
        first = tool.get_task_template(template_name="t", command_template="t {a}", node_args=["a"])
        self.assertIs(
            tool.get_task_template(template_name="t", command_template="t {a}", node_args=["a"]),
            first,
        )
        with self.assertRaisesRegex(SpecError, "already defined in tool 'versions'"):
            tool.get_task_template(template_name="t", command_template="t2 {a}", node_args=["a"])

    def test_duplicate_node_args_are_refused_when_added(self):
        tool = Tool("dups")
        t = tool.get_task_template(
            template_name="t", command_template="t {a} {b}", node_args=["a"], task_args=["b"]
        )
        wf = tool.create_workflow(workflow_args="dups")
        one = t.create_task(a=1, b=1)
        wf.add_task(one)
        wf.add_task(one)  # the same task again: nothing new
        with self.assertRaises(DuplicateNodeArgsError):
            wf.add_task(t.create_task(a=1, b=2))
        self.assertIsInstance(DuplicateNodeArgsError("x"), ValueError)

    def test_upstream_tasks_not_added_are_in_the_spec(self):
        tool = Tool("closure")
        t = tool.get_task_template(template_name="t", command_template="t {a}", node_args=["a"])
        up = t.create_task(a=1)
        down = t.create_task(a=2)
        down.add_upstream(up)
        self.assertEqual(up.downstream_tasks, {down})
        wf = tool.create_workflow(workflow_args="closure")
        wf.add_task(down)
        self.assertEqual([e["args"]["a"] for e in wf.to_spec()["tasks"]], ["2", "1"])

    def test_get_tasks_by_node_args(self):
        tool = Tool("lookup")
        t = tool.get_task_template(
            template_name="t", command_template="t {a} {b}", node_args=["a", "b"]
        )
        wf = tool.create_workflow(workflow_args="lookup")
        wf.add_tasks(t.create_tasks(a=[1, 2, 3], b=["x", "y"]))
        self.assertEqual(len(wf.get_tasks_by_node_args("t", a=2)), 2)
        self.assertEqual(len(wf.get_tasks_by_node_args("t", a=[1, 3], b="y")), 2)
        with self.assertRaises(ValueError):
            wf.get_tasks_by_node_args("nope", a=1)

    def test_templates_of_another_tool_are_refused(self):
        mine, theirs = Tool("mine"), Tool("theirs")
        t = theirs.get_task_template(template_name="t", command_template="t")
        wf = mine.create_workflow(workflow_args="x")
        wf.add_task(t.create_task())
        with self.assertRaisesRegex(SpecError, "belongs to tool 'theirs'"):
            wf.to_spec()

    def test_default_names(self):
        self.assertEqual(
            default_task_name("m", ["loc", "y"], {"loc": "São Paulo", "y": "1"}),
            "m_loc-São_Paulo_y-1",
        )
        self.assertEqual(default_task_name("m", [], {}), "m")
        # Long names are cut at 238 UTF-16 units and end with a hash of the whole name.
        long = default_task_name("m", ["a"], {"a": "x" * 300})
        self.assertEqual(len(long), 255)
        self.assertTrue(long.startswith("m_a-xxx"))
        self.assertRegex(long, r"_[0-9a-f]{16}$")


if __name__ == "__main__":
    unittest.main()
