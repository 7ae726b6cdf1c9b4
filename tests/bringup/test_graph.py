"""The one description of the graph, read by the launch files and the runner alike."""
import ast
import os
from pathlib import Path

import pytest

from recap_bringup.graph import LaunchArgs, describe_graph, params_yaml, ros_args
from recap_bringup.launch_arguments import default_strings, parse
from recap_bringup.process_group import NodeProcesses
from recap_bringup.runner import main as runner_main
from recap_bringup.startup_check import silent_topics

LAUNCH_DIR = Path(__file__).resolve().parents[2] / "ros2_ws/src/recap_bringup/launch"


@pytest.mark.parametrize("launch_file,task", [("espresso.launch.py", "espresso"),
                                              ("transfer_cube.launch.py", "transfer_cube")])
def test_launch_files_define_no_nodes_of_their_own(launch_file, task):
    tree = ast.parse((LAUNCH_DIR / launch_file).read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    names = {getattr(c.func, "id", getattr(c.func, "attr", None)) for c in calls}
    assert names == {"make_launch_description"}, "launch files must only build from recap_bringup.graph"
    (call,) = calls
    assert [kw.value.value for kw in call.keywords if kw.arg == "default_task"] == [task]


def test_sim_graph_with_policy_and_recorder():
    specs = describe_graph(LaunchArgs(task="espresso", checkpoint="/ckpt"))
    assert [s.name for s in specs] == ["sim_node", "policy_node", "arbitration_node", "episode_recorder"]
    by_name = {s.name: s for s in specs}
    assert by_name["sim_node"].parameters["task"] == "espresso"
    assert by_name["sim_node"].parameters["operator.enabled"] is True
    assert by_name["policy_node"].parameters["checkpoint"] == "/ckpt"
    assert all(s.parameters["use_sim_time"] is True for s in specs)
    assert "/follower_left/joint_states" in by_name["arbitration_node"].required_topics


def test_real_robot_graph_has_no_sim_and_needs_cameras():
    specs = describe_graph(LaunchArgs(sim=False, checkpoint="/ckpt", record=False))
    assert [s.name for s in specs] == ["policy_node", "arbitration_node"]
    policy = specs[0]
    assert "/cam_high/image_raw" in policy.required_topics
    assert "use_sim_time" not in policy.parameters


def test_no_checkpoint_means_no_policy_node():
    assert "policy_node" not in [s.name for s in describe_graph(LaunchArgs())]


def test_launch_argument_errors_are_clear():
    with pytest.raises(ValueError, match="record:='yes' must be true or false"):
        parse({"record": "yes"})
    with pytest.raises(ValueError, match="unknown launch argument"):
        parse({"chekpoint": "/x"})
    with pytest.raises(ValueError, match="unknown robot 'ur5'"):
        parse({"robot": "ur5"})
    assert parse(default_strings()) == LaunchArgs()


def test_runner_starts_exactly_the_described_processes(capsys):
    assert runner_main(["transfer_cube", "--checkpoint", "/ckpt", "--dry-run", "--domain-id", "17"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    specs = describe_graph(LaunchArgs(task="transfer_cube", checkpoint="/ckpt"))
    assert len(lines) == len(specs)
    for line, spec in zip(lines, specs):
        assert line.startswith("ROS_DOMAIN_ID=17 ")
        assert f"-m {spec.module} " in line and f"__node:={spec.name}" in line


def test_runner_domain_defaults_to_ros_domain_id_else_a_free_one(capsys, monkeypatch):
    from recap_bringup import ros_domain

    monkeypatch.setenv("ROS_DOMAIN_ID", "31")
    assert runner_main(["espresso", "--dry-run"]) == 0
    assert all(line.startswith("ROS_DOMAIN_ID=31 ") for line in capsys.readouterr().out.splitlines())
    monkeypatch.delenv("ROS_DOMAIN_ID")
    monkeypatch.setattr(ros_domain, "free_domain_id", lambda: 64)
    assert runner_main(["espresso", "--dry-run"]) == 0
    assert all(line.startswith("ROS_DOMAIN_ID=64 ") for line in capsys.readouterr().out.splitlines())
    monkeypatch.setenv("ROS_DOMAIN_ID", "300")
    assert runner_main(["espresso", "--dry-run"]) == 2
    assert "ROS_DOMAIN_ID=300 is not a valid ROS domain id" in capsys.readouterr().err


@pytest.mark.integration
def test_node_processes_run_in_the_graphs_domain(tmp_path):
    """The domain reaches the processes: a node started in another domain than this test session's
    is discovered there (a participant belongs to exactly one domain)."""
    from recap_bringup.ros_domain import free_domain_id
    from ros_harness import SpinningNode

    domain = free_domain_id()
    assert str(domain) != os.environ["ROS_DOMAIN_ID"]
    sim = describe_graph(LaunchArgs(task="transfer_cube", operator=False, record=False))[0]
    group = NodeProcesses([sim], domain_id=domain, log_dir=tmp_path, echo=None)
    group.start()
    try:
        with SpinningNode("observer", domain_id=domain) as observer:
            observer.wait_for_publishers("/follower_left/joint_states", timeout=60)
    finally:
        group.stop()


def test_params_file_round_trip():
    import yaml
    spec = describe_graph(LaunchArgs(task="espresso"))[0]
    loaded = yaml.safe_load(params_yaml(spec))
    assert loaded == {"sim_node": {"ros__parameters": dict(spec.parameters)}}
    assert ros_args(spec, "/p.yaml")[:5] == ["--ros-args", "-r", "__node:=sim_node", "--params-file", "/p.yaml"]


def test_startup_check_names_silent_topics():
    specs = describe_graph(LaunchArgs(sim=False, checkpoint="/ckpt"))
    published = {"/follower_left/joint_states", "/follower_right/joint_states", "/policy/command"}
    problems = silent_topics(specs, lambda t: int(t in published))
    assert problems and all("/cam_" in p for p in problems)
    assert "policy_node needs /cam_high/image_raw" in problems[0]
    no_policy_yet = silent_topics(specs, lambda t: int(t in published - {"/policy/command"}))
    assert "arbitration_node needs /policy/command, but nothing publishes it" in no_policy_yet[-1]


def test_process_group_reports_a_crashed_node(tmp_path):
    from recap_bringup.graph import NodeSpec
    crash = NodeSpec("x", "x", "processes.exit_with_code", "crasher", {"code": 3})
    group = NodeProcesses([crash], domain_id=0, log_dir=tmp_path, echo=None)
    group.start()
    assert group.procs["crasher"].wait(timeout=30) == 3
    assert group.exited() == {"crasher": 3}
    assert "exiting with 3" in (tmp_path / "crasher.log").read_text()
    assert group.last_output("crasher") == ["exiting with 3"]
    assert group.exit_report("crasher") == (f"crasher exited with code 3 (log: {tmp_path / 'crasher.log'}); "
                                            "its last output:\n    | exiting with 3")


def node_parameters() -> dict[str, set[str]]:
    """Every node's parameter table (one typed table per node)."""
    from recap_policy.config import PARAMETERS as policy
    from recap_recorder.config import PARAMETERS as recorder
    from recap_sim.sim_node_config import PARAMETERS as sim
    from recap_teleop.config import PARAMETERS as arbitration
    return {"sim_node": set(sim), "policy_node": set(policy), "arbitration_node": set(arbitration),
            "episode_recorder": set(recorder)}


@pytest.mark.parametrize("robot_file", ["aloha.yaml", "aloha_sim.yaml"])
def test_config_names_only_parameters_the_nodes_declare(robot_file):
    """A misspelt parameter in the YAML would be silently ignored by the node: catch it here."""
    import yaml
    config = yaml.safe_load((LAUNCH_DIR.parent / "config" / robot_file).read_text())
    declared = node_parameters()
    for node, body in config.items():
        for name in body["ros__parameters"]:
            assert name in declared[node], f"{robot_file}: {node} declares no parameter {name!r}"
