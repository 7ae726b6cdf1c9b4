"""The console node over real DDS with the recorder and the arbitration node as processes: start +
label success writes a bag labelled success; takeover and hand-back reach the arbitration node."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState

from recap_core.aloha_layout import SIM_GRIPPER, arm_command
from recap_teleop.console_input import Action
from recap_teleop.console_node import ConsoleNode
from recap_teleop.console_requests import EndEpisode, RelabelEpisode, SetTakeover, StartEpisode
from recap_teleop.console_state import Mode
from ros_harness import wait_until
from stack_helpers import ros_args

pytestmark = pytest.mark.integration


class RunningConsole:
    """A ConsoleNode on its own context, spun on a background thread (as recap-console does)."""

    def __init__(self, domain_id: int, **parameters) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = ConsoleNode(context=self.context, parameter_overrides=[
            Parameter(name, value=value) for name, value in parameters.items()])
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:
            if self.context.ok():
                raise

    def view(self):
        return self.node.model.view(time.monotonic())

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(timeout=5.0)


@pytest.fixture
def console(domain_id):
    running = RunningConsole(domain_id, task_prompt="transfer the cube", lock_heartbeat_s=0.1)
    yield running
    running.close()


def publish_arms(ros_node) -> None:
    """Followers and leaders at one pose, 50 Hz: a takeover finds them agreeing."""
    names_raw = [arm_command(np.array([0.0, -0.3, 0.3, 0.0, 0.2, 0.0, 0.5]), SIM_GRIPPER) for _ in range(2)]
    pubs = [ros_node.node.create_publisher(JointState, f"/{who}_{arm}/joint_states", 10)
            for who in ("follower", "leader") for arm in ("left", "right")]

    def tick() -> None:
        for i, pub in enumerate(pubs):
            names, raw = names_raw[i % 2]
            msg = JointState(name=names, position=raw)
            msg.header.stamp = ros_node.node.get_clock().now().to_msg()
            pub.publish(msg)
    ros_node.node.create_timer(0.02, tick)


def test_start_and_label_success_writes_a_bag_labelled_success(console, start_process, tmp_path):
    out = tmp_path / "episodes"
    start_process("recap_recorder.recorder_node", *ros_args([
        f"bag_dir:={out}", "cameras:=[none]", "sim:=false", "min_free_disk_gb:=0.0", "flush_interval_s:=0.2"]))
    wait_until(lambda: console.view().in_control, 10.0, "the console to take control")
    recorder = [console.node.clients_by_type[t] for t in (StartEpisode, EndEpisode, RelabelEpisode)]
    wait_until(lambda: all(c.service_is_ready() for c in recorder), 30.0, "the recorder's services")

    console.node.request(Action.START)
    wait_until(lambda: console.view().recording is not None and not console.view().pending, 20.0, f"a recording episode: {console.view()}")
    episode_id = console.view().recording.episode_id
    console.node.request(Action.SUCCESS)
    # The recorder's SUCCESS event may come before its reply: the reply (with the bag) completes it.
    wait_until(lambda: console.view().last_ended is not None and not console.view().pending, 20.0,
               f"the episode to end: {console.view()}")

    ended = console.view().last_ended
    assert (ended.episode_id, ended.outcome) == (episode_id, "success")
    assert Path(ended.bag_path) == out / episode_id
    meta = json.loads((out / episode_id / "episode.json").read_text())
    assert meta["outcome"] == "success" and meta["task"] == "transfer the cube"
    assert ended.detected_drops == meta["detected_drops"]
    assert console.view().outcome_counts["success"] == 1

    console.node.request(Action.FAILURE)  # a just-ended episode is relabelled
    wait_until(lambda: console.view().last_ended.outcome == "failure", 20.0, f"the relabel: {console.view()}")
    assert json.loads((out / episode_id / "episode.json").read_text())["outcome"] == "failure"


def test_takeover_and_hand_back_reach_the_arbitration_node(console, ros_node, start_process):
    start_process("recap_teleop.arbitration_node", *ros_args(["keyboard:=false", "robot:=aloha_sim"]))
    publish_arms(ros_node)
    # The node reports its state once the followers arrive; it accepts a takeover once the leaders
    # have too (it refuses "no leader joint states yet" before): the console's request is repeated
    # while the node gives that answer, as an operator would press again.
    wait_until(lambda: console.view().in_control and console.view().mode is not Mode.UNKNOWN
               and "waiting for" not in console.view().mode_detail, 30.0, f"the arbitration node's state: {console.view()}")
    wait_until(console.node.clients_by_type[SetTakeover].service_is_ready, 30.0, "/takeover/set")

    def took_over() -> bool:
        view = console.view()
        if view.mode is Mode.HUMAN:
            return True
        if not view.pending and view.messages and "no leader joint states yet" in view.messages[0]:
            console.node.request(Action.TAKEOVER)
        return False

    console.node.request(Action.TAKEOVER)
    wait_until(took_over, 20.0, f"human in control: {console.view()}")
    assert console.view().interventions == 1

    console.node.request(Action.TAKEOVER)
    wait_until(lambda: any("handed back to the policy by service" in m for m in console.view().messages), 20.0,
               f"the hand-back: {console.view()}")
    wait_until(lambda: console.view().mode is not Mode.HUMAN, 20.0, f"the policy in control: {console.view()}")


def test_a_second_console_stays_read_only_while_the_first_is_in_control(console, domain_id):
    wait_until(lambda: console.view().in_control, 10.0, "the first console to take control")
    # The default heartbeat (0.5 s): the newcomer listens 2 s, well beyond DDS discovery on a loaded
    # machine; with 0.1 s it listened 0.4 s and, once, claimed control before it heard the first.
    second = RunningConsole(domain_id, task_prompt="transfer the cube")
    try:
        wait_until(lambda: not second.node.lock.listening(time.monotonic()), 10.0, "the second console to listen")
        wait_until(lambda: console.node.console_id in second.view().control, 10.0,
                   f"the second console to name the first: {second.view().control}")
        assert console.view().in_control and not second.view().in_control
        second.node.request(Action.START)
        wait_until(lambda: "start episode refused: read-only: console" in " ".join(second.view().messages), 10.0,
                   f"the refusal: {second.view().messages}")
    finally:
        second.close()
