"""Graphs started by recap-bringup: each in its own ROS domain, its managed nodes configured and
activated in order, stopped at once (with the node's own message) when a node exits or fails to
configure while the graph comes up, and checked against the robot description."""
import os
import re
import signal
import subprocess
import sys
import threading

import pytest

from bringup.checkpoint_config import write_checkpoint_config
from recap_bringup.graph import JOINT_STATE, LaunchArgs, NodeSpec, RequiredTopic, describe_graph
from recap_bringup.graph_session import GraphSession, GraphStopped
from recap_bringup.process_group import NodeProcesses
from recap_bringup.runner import main as runner_main, run_graph
from recap_bringup.startup_check import GraphObserver, topic_problems
from ros_harness import SpinningNode, wait_until

pytestmark = pytest.mark.integration

JOINTS = "/follower_left/joint_states"


class Runner:
    """`recap-bringup transfer_cube` (sim and arbitration only) as a process, its output in a file."""

    def __init__(self, tmp_path, name: str, env: dict[str, str]) -> None:
        self.log_path = tmp_path / f"{name}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "recap_bringup.runner", "transfer_cube",
                                      "--record", "false", "--operator", "false", "--startup-timeout", "60"],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def output(self) -> str:
        return self.log_path.read_text()

    def domain(self) -> int:
        wait_until(lambda: "in ROS domain" in self.output() or self.proc.poll() is not None, 60,
                   "the runner to name its domain")
        match = re.search(r"in ROS domain (\d+) \(free on this machine\)", self.output())
        assert match, self.output()
        return int(match.group(1))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def test_two_graphs_on_one_machine_each_get_a_free_domain_and_do_not_see_each_other(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ROS_DOMAIN_ID"}
    first = Runner(tmp_path, "first", env)
    second = None
    try:
        first_domain = first.domain()
        with SpinningNode("observer_first", domain_id=first_domain) as observer_first:
            observer_first.wait_for_publishers(JOINTS, timeout=60)
            # The first graph's nodes now hold their domain's ports: the second must choose another.
            second = Runner(tmp_path, "second", env)
            second_domain = second.domain()
            assert second_domain != first_domain
            with SpinningNode("observer_second", domain_id=second_domain) as observer_second:
                observer_second.wait_for_publishers(JOINTS, timeout=60)
                assert observer_first.node.count_publishers(JOINTS) == 1
                assert observer_second.node.count_publishers(JOINTS) == 1
    finally:
        codes = [runner.stop() for runner in (first, second) if runner]
    assert codes == [0, 0], first.output() + (second.output() if second else "")


def test_a_node_that_fails_to_configure_stops_the_graph_with_its_own_message(tmp_path, capsys):
    from recap_bringup.ros_domain import free_domain_id

    code = runner_main(["transfer_cube", "--checkpoint", str(tmp_path / "missing"), "--record", "false",
                        "--operator", "false", "--startup-timeout", "60", "--domain-id", str(free_domain_id()),
                        "--log-dir", str(tmp_path / "logs")])
    captured = capsys.readouterr()
    assert code == 1
    assert "policy_node failed to configure:" in captured.err and str(tmp_path / "missing") in captured.err
    assert "stopping the graph" in captured.err
    # The graph stopped before the startup check's verdict: no warning about the missing publisher.
    assert "nothing publishes" not in captured.out + captured.err


def probes(tmp_path, fail: dict[str, str] | None = None, crash_once: str = "") -> list[NodeSpec]:
    """Three managed probe nodes (tests/processes/managed_probe.py) that log their transitions;
    `crash_once`: the one that segfaults after its first configure."""
    return [NodeSpec("x", "x", "processes.managed_probe", name,
                     {"autostart": False, "log_file": str(tmp_path / "transitions.log"),
                      "fail_configure": (fail or {}).get(name, ""),
                      "crash_once": str(tmp_path / "crashed") if name == crash_once else ""}, managed=True)
            for name in ("probe_a", "probe_b", "probe_c")]


def test_managed_nodes_are_all_configured_then_all_activated_in_graph_order(tmp_path):
    with GraphSession(probes(tmp_path), tmp_path / "logs", startup_timeout_s=60.0):
        assert (tmp_path / "transitions.log").read_text().splitlines() == [
            "probe_a configure", "probe_b configure", "probe_c configure",
            "probe_a activate", "probe_b activate", "probe_c activate"]


def test_a_managed_node_that_fails_to_configure_stops_the_graph_session_and_the_runner(tmp_path, capsys):
    specs = probes(tmp_path, fail={"probe_b": "the bag directory /nowhere is not writable"})
    with pytest.raises(GraphStopped, match="probe_b failed to configure: the bag directory /nowhere is not writable"):
        with GraphSession(specs, tmp_path / "logs", startup_timeout_s=60.0):
            pass
    assert (tmp_path / "transitions.log").read_text().splitlines() == ["probe_a configure", "probe_b configure"]

    from recap_bringup.ros_domain import free_domain_id
    group = NodeProcesses(specs, domain_id=free_domain_id(), echo=None)
    assert run_graph(group, 60.0, threading.Event(), "a test domain") == 1
    assert "probe_b failed to configure: the bag directory /nowhere is not writable" in capsys.readouterr().err
    assert not group.procs or all(p.poll() is not None for p in group.procs.values())


def test_a_node_that_segfaults_while_the_graph_comes_up_is_restarted_and_leaves_its_stack(tmp_path):
    with GraphSession(probes(tmp_path, crash_once="probe_b"), tmp_path / "logs", startup_timeout_s=60.0) as session:
        assert session.restarts == {"probe_b": 1}
        transitions = (tmp_path / "transitions.log").read_text().splitlines()
        assert transitions.count("probe_b configure") == 2
        assert sorted(t for t in transitions if t.endswith("activate")) == [
            "probe_a activate", "probe_b activate", "probe_c activate"]
    crash_log = (tmp_path / "logs" / "probe_b.log").read_text()
    assert "Fatal Python error: Segmentation fault" in crash_log and "managed_probe.py" in crash_log


def test_a_node_that_keeps_crashing_while_the_graph_comes_up_stops_it_with_its_stack(tmp_path):
    with pytest.raises(GraphStopped, match=r"probe_b crashed while the graph came up, after 0 restarts") as stopped:
        with GraphSession(probes(tmp_path, crash_once="probe_b"), tmp_path / "logs", startup_timeout_s=60.0,
                          max_restarts=0):
            pass
    assert "probe_b exited with code -11" in str(stopped.value)
    assert "Fatal Python error: Segmentation fault" in str(stopped.value)


def test_the_startup_check_names_a_wrongly_typed_camera_and_a_missing_joint(tmp_path, ros_node, domain_id):
    """single_arm_6dof: a driver that leaves out joint3 and a camera published raw where the
    description says compressed, as seen over DDS."""
    from sensor_msgs.msg import Image, JointState

    checkpoint = write_checkpoint_config(tmp_path / "ckpt", cameras=["scene"], robot="single_arm_6dof")
    specs = describe_graph(LaunchArgs(sim=False, robot="single_arm_6dof", checkpoint=str(checkpoint), record=False))
    policy = next(s for s in specs if s.name == "policy_node")
    joints = ros_node.node.create_publisher(JointState, "/joint_states", 10)
    camera = ros_node.node.create_publisher(Image, "/scene_camera/image_raw/compressed", 10)
    names = ["joint1", "joint2", "joint4", "joint5", "joint6", "gripper_joint"]
    ros_node.node.create_timer(0.05, lambda: (joints.publish(JointState(name=names, position=[0.0] * 6)),
                                             camera.publish(Image())))
    expected = [
        "policy_node needs joint(s) ['joint3'] on /joint_states, which publishes "
        f"{names} (check the arm's joints and gripper in the robot description)",
        "policy_node needs /scene_camera/image_raw/compressed as sensor_msgs/msg/CompressedImage, but it is "
        "published as sensor_msgs/msg/Image (check the encoding in the robot description)"]
    observer = GraphObserver([policy], domain_id)
    try:
        def named() -> bool:
            observer.spin()
            return topic_problems([policy], observer.publisher_types, observer.joints_heard) == expected
        wait_until(named, 60, "the startup check to name the missing joint and the camera's type")
    finally:
        observer.close()


def test_graph_session_stops_when_a_node_exits_at_startup_and_shows_its_output(tmp_path):
    crasher = NodeSpec("x", "x", "processes.exit_with_code", "crasher", {"code": 3},
                       required_topics=(RequiredTopic("/nobody/publishes/this", JOINT_STATE),))
    with pytest.raises(GraphStopped) as stopped:
        with GraphSession([crasher], tmp_path / "logs", startup_timeout_s=60.0):
            pass
    message = str(stopped.value)
    assert "crasher exited with code 3" in message and "exiting with 3" in message
    assert "nothing publishes" not in message
