"""The one description of the graph, read by the launch files and the runner alike."""
import ast
import os
from pathlib import Path

import pytest

from bringup.checkpoint_config import write_checkpoint_config
from recap_bringup.graph import (JOINT_STATE, LaunchArgs, NodeSpec, RequiredTopic, describe_graph, managed_nodes,
                                 params_yaml, ros_args)
from recap_bringup.launch_arguments import default_strings, parse
from recap_bringup.launch_description import transitions_command
from recap_bringup.process_group import NodeProcesses
from recap_bringup.runner import main as runner_main
from recap_bringup.startup_check import topic_problems
from recap_core.robot_description import load_robot, shipped_robots

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
    # The arbiter is configured and activated first (it holds the arms), the policy last.
    assert [s.name for s in specs] == ["sim_node", "arbitration_node", "episode_recorder", "policy_node"]
    assert managed_nodes(specs) == ["arbitration_node", "episode_recorder", "policy_node"]
    by_name = {s.name: s for s in specs}
    assert by_name["sim_node"].parameters["task"] == "espresso"
    assert by_name["sim_node"].parameters["operator.enabled"] is True
    assert by_name["episode_recorder"].parameters["sim"] is True
    assert by_name["policy_node"].parameters["checkpoint"] == "/ckpt"
    assert all(s.parameters["use_sim_time"] is True for s in specs)
    assert all(s.parameters["robot"] == str(shipped_robots()["aloha_sim"].resolve()) for s in specs)
    assert "autostart" not in by_name["sim_node"].parameters and not by_name["sim_node"].managed
    assert all(by_name[n].parameters["autostart"] is False for n in managed_nodes(specs))
    assert "/leader_left/joint_states" in topics(by_name["arbitration_node"])
    # Without the simulated operator the sim publishes no leader arms, so nothing waits for them.
    quiet = describe_graph(LaunchArgs(task="espresso", operator=False))
    assert not any("/leader_" in t for s in quiet for t in topics(s))


def topics(spec) -> list[str]:
    return [t.name for t in spec.required_topics]


@pytest.mark.parametrize("robot", ["aloha", "single_arm_6dof"])
def test_a_real_robot_graph_takes_every_topic_from_its_description(robot, tmp_path):
    description = load_robot(robot)
    checkpoint = write_checkpoint_config(tmp_path / "ckpt", cameras=[c.name for c in description.cameras[:1]],
                                         robot=robot)
    specs = describe_graph(LaunchArgs(sim=False, robot=robot, checkpoint=str(checkpoint)))
    assert [s.name for s in specs] == ["arbitration_node", "episode_recorder", "policy_node"]
    by_name = {s.name: s for s in specs}
    for spec in specs:
        assert spec.parameters["robot"] == str(shipped_robots()[robot].resolve())
        assert spec.parameters["autostart"] is False and "use_sim_time" not in spec.parameters
    followers = [RequiredTopic(a.joint_states, JOINT_STATE, (*(d for d, _ in a.joints), a.gripper.joint))
                 for a in description.follower_arms]
    leaders = [RequiredTopic(a.joint_states, JOINT_STATE, (*(d for d, _ in a.joints), a.gripper.joint))
               for a in description.leader_arms]
    camera = description.cameras[0]
    assert list(by_name["policy_node"].required_topics) == [*followers, RequiredTopic(camera.topic, camera.msgtype)]
    assert list(by_name["arbitration_node"].required_topics) == \
        [*followers, *leaders, RequiredTopic("/policy/command", JOINT_STATE)]
    assert by_name["episode_recorder"].parameters["sim"] is False
    # A description without its own tuning file gets config/default.yaml (the recorder's robot id
    # is then the description's name).
    assert by_name["episode_recorder"].parameters.get("robot_id") == {"aloha": "aloha-0", "single_arm_6dof": None}[robot]


def test_a_description_by_path_reaches_every_node_as_an_absolute_path(tmp_path, monkeypatch):
    text = shipped_robots()["single_arm_6dof"].read_text().replace("name: single_arm_6dof", "name: my_robot")
    (tmp_path / "my_robot.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    specs = describe_graph(LaunchArgs(sim=False, robot="my_robot.yaml", checkpoint="/ckpt"))
    assert {s.parameters["robot"] for s in specs} == {str(tmp_path / "my_robot.yaml")}
    assert {s.name: s for s in specs}["policy_node"].parameters["max_observation_age_s"] == 0.2  # default.yaml


def test_the_simulator_runs_only_its_own_description():
    with pytest.raises(ValueError, match="sim:=true runs the simulated ALOHA.*describes 'single_arm_6dof'"):
        describe_graph(LaunchArgs(robot="single_arm_6dof"))
    with pytest.raises(ValueError, match="robot:=aloha_sim describes the simulator; with sim:=false name"):
        describe_graph(LaunchArgs(sim=False))
    with pytest.raises(ValueError, match="unknown robot 'ur5'"):
        describe_graph(LaunchArgs(sim=False, robot="ur5"))


def test_a_checkpoint_for_another_robot_is_refused_before_the_graph_starts(tmp_path):
    sim_policy = write_checkpoint_config(tmp_path / "sim", robot="aloha_sim")
    with pytest.raises(ValueError) as refused:
        describe_graph(LaunchArgs(sim=False, robot="aloha", checkpoint=str(sim_policy)))
    message = str(refused.value)
    assert "trained for robot 'aloha_sim'" in message and "this graph runs robot 'aloha'" in message
    assert load_robot("aloha_sim").description_hash() in message and load_robot("aloha").description_hash() in message
    nameless = write_checkpoint_config(tmp_path / "nameless", robot=None)
    with pytest.raises(ValueError, match="names no robot .its config.json has no 'robot' block"):
        describe_graph(LaunchArgs(checkpoint=str(nameless)))
    blind = write_checkpoint_config(tmp_path / "blind", cameras=["cam_high", "cam_top"], robot="aloha")
    with pytest.raises(ValueError, match=r"reads camera\(s\) \['cam_top'\], which robot 'aloha' .* lacks"):
        describe_graph(LaunchArgs(sim=False, robot="aloha", checkpoint=str(blind)))


def test_no_checkpoint_means_no_policy_node():
    assert "policy_node" not in [s.name for s in describe_graph(LaunchArgs())]


def test_launch_argument_errors_are_clear():
    with pytest.raises(ValueError, match="record:='yes' must be true or false"):
        parse({"record": "yes"})
    with pytest.raises(ValueError, match="unknown launch argument"):
        parse({"chekpoint": "/x"})
    assert parse(default_strings()) == LaunchArgs()


def test_the_launch_files_drive_the_same_managed_nodes_as_the_runner():
    specs = describe_graph(LaunchArgs(checkpoint="/ckpt"))
    command = transitions_command(managed_nodes(specs))
    assert command[1:] == ["-m", "recap_lifecycle.transitions", "--nodes", "arbitration_node", "episode_recorder",
                           "policy_node"]


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


def test_startup_check_names_silent_wrongly_typed_and_incomplete_topics():
    joints = ("waist", "gripper")
    specs = [NodeSpec("p", "p", "p", "policy_node", required_topics=(
        RequiredTopic("/arm/joint_states", JOINT_STATE, joints), RequiredTopic("/cam/image_raw", "sensor_msgs/msg/Image"),
        RequiredTopic("/cam2/compressed", "sensor_msgs/msg/CompressedImage"))),
        NodeSpec("a", "a", "a", "arbitration_node", required_topics=(RequiredTopic("/leader/joint_states",
                                                                                    JOINT_STATE, joints),))]
    types = {"/arm/joint_states": [JOINT_STATE], "/cam/image_raw": ["sensor_msgs/msg/CompressedImage"],
             "/leader/joint_states": [JOINT_STATE], "/cam2/compressed": ["sensor_msgs/msg/CompressedImage"]}
    heard = {"/arm/joint_states": ("waist", "elbow")}
    problems = topic_problems(specs, lambda t: types.get(t, []), heard.get)
    assert problems == [
        "policy_node needs joint(s) ['gripper'] on /arm/joint_states, which publishes ['waist', 'elbow'] "
        "(check the arm's joints and gripper in the robot description)",
        "policy_node needs /cam/image_raw as sensor_msgs/msg/Image, but it is published as "
        "sensor_msgs/msg/CompressedImage (check the encoding in the robot description)",
        "arbitration_node needs /leader/joint_states, which has a publisher but sent no message"]
    heard.update({"/arm/joint_states": ("waist", "gripper", "finger"), "/leader/joint_states": joints})
    types["/cam/image_raw"].append("sensor_msgs/msg/Image")
    assert topic_problems(specs, lambda t: types.get(t, []), heard.get) == []
    assert topic_problems(specs, lambda t: [], heard.get)[0] == (
        "policy_node needs /arm/joint_states, but nothing publishes it (check the driver, or the topic in the "
        "robot description)")


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


CONFIG_FILES = sorted(p.name for p in (LAUNCH_DIR.parent / "config").glob("*.yaml"))


def test_every_shipped_description_without_a_tuning_file_has_the_default():
    assert {"aloha.yaml", "aloha_sim.yaml", "default.yaml"} <= set(CONFIG_FILES)


@pytest.mark.parametrize("robot_file", CONFIG_FILES)
def test_config_names_only_parameters_the_nodes_declare(robot_file):
    """A misspelt parameter in the YAML would be silently ignored by the node: catch it here."""
    import yaml
    config = yaml.safe_load((LAUNCH_DIR.parent / "config" / robot_file).read_text())
    declared = node_parameters()
    for node, body in config.items():
        for name in body["ros__parameters"]:
            assert name in declared[node], f"{robot_file}: {node} declares no parameter {name!r}"


@pytest.mark.parametrize("robot_file", CONFIG_FILES)
def test_tuning_files_name_no_topic_camera_or_adapter(robot_file):
    """Those come from the robot description only, so the two can never disagree."""
    import yaml
    config = yaml.safe_load((LAUNCH_DIR.parent / "config" / robot_file).read_text())
    for node, body in config.items():
        for name, value in body["ros__parameters"].items():
            assert not any(word in name for word in ("topic", "camera", "adapter", "gripper_closed", "gripper_open")) \
                or name.startswith("operator."), f"{robot_file}: {node}.{name}"
            assert not (isinstance(value, str) and value.startswith("/")), f"{robot_file}: {node}.{name}={value}"
