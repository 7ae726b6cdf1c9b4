"""The policy node over real DDS, driven by a local openpi-protocol policy server.

A test node plays the robot: it publishes follower joint states (and a camera) stamped with its
clock; the policy node must turn them into ActionChunks and a 50 Hz /policy/command stream, hold
on stale inputs, and never execute a NaN chunk.
"""
import numpy as np
import pytest
from sensor_msgs.msg import Image, JointState

from openpi_test_server import OpenpiTestServer
from recap_core.aloha_layout import ARM_JOINTS, GRIPPER_JOINT, JOINT_NAMES, reorder_by_name
from recap_msgs.msg import ActionChunk
from ros_harness import wait_until

pytestmark = pytest.mark.integration

GRIP = (0.021, 0.057)  # the sim's raw gripper range
ARM = [0.1, -0.2, 0.3, 0.0, 0.4, 0.0]
RGB = np.random.default_rng(0).integers(0, 255, size=(12, 16, 3), dtype=np.uint8)


class FakeRobot:
    """Publishes both follower joint states (+ optionally cameras) at 50 Hz while `running`."""

    def __init__(self, ros_node, camera: bool, cameras: tuple[str, ...] = ("cam_high",)) -> None:
        node = ros_node.node
        self.node = node
        self.running = True
        self.stamps: list = []
        self.joint_pubs = [node.create_publisher(JointState, f"/follower_{a}/joint_states", 10) for a in ("left", "right")]
        self.image_pubs = [node.create_publisher(Image, f"/{c}/image_raw", 10) for c in cameras] if camera else []
        node.create_timer(0.02, self._tick)

    def _tick(self) -> None:
        if not self.running:
            return
        stamp = self.node.get_clock().now().to_msg()
        self.stamps.append(stamp)
        for pub in self.joint_pubs:
            msg = JointState(name=["left_finger", *ARM_JOINTS, GRIPPER_JOINT], position=[0.0, *ARM, 0.057])
            msg.header.stamp = stamp
            pub.publish(msg)
        for pub in self.image_pubs:
            img = Image(height=12, width=16, encoding="rgb8", step=48, data=RGB.tobytes())
            img.header.stamp = stamp
            pub.publish(img)


def start_policy(start_process, port: int, *extra: str):
    return start_process("recap_policy.policy_node", "--ros-args", "-p", "backend:=remote",
                         "-p", f"remote_port:={port}", "-p", "remote_host:=127.0.0.1",
                         "-p", f"follower_gripper_closed:={GRIP[0]}", "-p", f"follower_gripper_open:={GRIP[1]}",
                         "-p", "inference_every:=5", "-p", "max_observation_age_s:=0.3", "-p", "warn_period_s:=0.2",
                         *extra)


def expected_qpos() -> np.ndarray:
    arm = np.array([*ARM, 1.0])  # gripper 0.057 raw = open = 1.0
    return np.concatenate([arm, arm])


def test_chunks_and_command_stream_from_images_and_joint_states(ros_node, start_process):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    with OpenpiTestServer(horizon=20, offset=0.05, metadata={"cameras": ["cam_high"]}) as server:
        robot = FakeRobot(ros_node, camera=True)
        proc = start_policy(start_process, server.port, "-p", "camera_topics:=['/cam_high/image_raw']",
                            "-p", "scheduler:=rtc")
        got = chunks.wait_for(3, timeout=30.0)
        cmds = commands.wait_for(60, timeout=20.0)
        robot.running = False
        request = server.requests[0]
    want = expected_qpos() + 0.05
    first = got[0]
    assert (first.horizon, first.action_dim) == (20, 14) and first.policy_id == "test/openpi-server"
    np.testing.assert_allclose(np.asarray(first.actions).reshape(20, 14)[-1], want, atol=1e-5)
    published = {(s.sec, s.nanosec) for s in robot.stamps}
    assert all((c.header.stamp.sec, c.header.stamp.nanosec) in published for c in got)  # observation time
    assert [c.chunk_id for c in got[:3]] == [0, 1, 2]
    last = reorder_by_name(cmds[-1].name, cmds[-1].position)
    np.testing.assert_allclose(last, want, atol=1e-5)
    assert list(cmds[-1].name) == list(JOINT_NAMES)
    np.testing.assert_allclose(request["state"], expected_qpos(), atol=1e-6)
    np.testing.assert_array_equal(request["images"]["cam_high"], RGB.transpose(2, 0, 1))
    assert request["advantage"] == "positive"
    assert proc.proc.poll() is None


def test_stale_observations_hold_the_command_and_stop_chunks(ros_node, start_process):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    with OpenpiTestServer(horizon=20) as server:
        robot = FakeRobot(ros_node, camera=False)
        proc = start_policy(start_process, server.port)
        chunks.wait_for(2, timeout=30.0)
        robot.running = False  # the driver dies: joint states go stale after 0.3 s
        wait_until(lambda: "old (max 0.300 s)" in proc.log(), 10.0, "a stale-observation warning")
        commands.wait_for(len(commands.messages) + 10, timeout=10.0)  # let in-flight chunks land
        n_chunks, n_cmds = len(chunks.messages), len(commands.messages)
        commands.wait_for(n_cmds + 25, timeout=10.0)  # the stream goes on (holding) ...
        assert len(chunks.messages) == n_chunks  # ... but no new chunk
        tail = [reorder_by_name(m.name, m.position) for m in commands.messages[n_cmds:]]
    assert all(np.array_equal(t, tail[0]) for t in tail)
    wait_until(lambda: "observation unusable, holding the last command" in proc.log(), 10.0, "the holding log line")
    assert "/follower_left/joint_states is" in proc.log()


def test_nan_chunks_are_rejected_and_never_executed(ros_node, start_process):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    with OpenpiTestServer(horizon=20) as server:
        server.emit_nan = True
        FakeRobot(ros_node, camera=False)
        proc = start_policy(start_process, server.port)
        wait_until(lambda: proc.log().count("rejected, not executed") >= 2, 20.0, "two rejected NaN chunks")
        assert chunks.messages == [] and commands.messages == []  # nothing to execute, nothing commanded
        server.emit_nan = False
        chunks.wait_for(1, timeout=20.0)
        cmds = commands.wait_for(5, timeout=10.0)
    assert all(np.isfinite(m.position).all() for m in cmds)
    assert "NaN/inf value(s)" in proc.log()


def test_a_silent_camera_is_named_and_no_chunk_is_made_until_it_publishes(ros_node, start_process):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    with OpenpiTestServer(horizon=20, metadata={"cameras": ["cam_high", "cam_left_wrist"]}) as server:
        FakeRobot(ros_node, camera=True, cameras=("cam_high",))
        proc = start_policy(start_process, server.port, "-p", "startup_timeout_s:=1.0", "-p",
                            "camera_topics:=['/cam_high/image_raw', '/cam_left_wrist/image_raw']")
        wait_until(lambda: "no frame from camera topic(s) ['/cam_left_wrist/image_raw']" in proc.log(), 20.0,
                   "the silent camera named")
        assert chunks.messages == [] and server.requests == []
        FakeRobot(ros_node, camera=True, cameras=("cam_left_wrist",))
        chunks.wait_for(1, timeout=20.0)
    assert "every camera delivered a frame" in proc.log()
    assert "observation unusable" not in proc.log().split("every camera delivered")[0]  # startup is not a fault
