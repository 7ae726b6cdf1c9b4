"""The policy node over real DDS, driven by a local openpi-protocol policy server.

A test node plays the robot the default description (aloha_sim) describes: it publishes follower
joint states (and cameras) on the description's topics, stamped with its clock; the policy node
must turn them into ActionChunks and a 50 Hz /policy/command stream, hold on stale inputs, never
execute a NaN chunk, command only while active, and report itself on /diagnostics.
"""
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, JointState

from openpi_test_server import OpenpiTestServer
from recap_core.aloha_layout import ARM_JOINTS, GRIPPER_JOINT, reorder_by_name
from recap_core.diagnostics import Level
from recap_core.robot_description import load_robot
from recap_lifecycle.managed_node import from_message
from recap_lifecycle.transitions import TransitionError, drive_transitions
from recap_msgs.msg import ActionChunk
from ros_harness import wait_until
from tiny_checkpoint import write_tiny_checkpoint

pytestmark = pytest.mark.integration

ROBOT = load_robot("aloha_sim")  # the node's default description
JOINT_NAMES = ROBOT.joint_names
ARM = [0.1, -0.2, 0.3, 0.0, 0.4, 0.0]
RGB = np.random.default_rng(0).integers(0, 255, size=(12, 16, 3), dtype=np.uint8)
STATE_ONLY = {"cameras": []}  # server metadata: a policy that reads no camera


class FakeRobot:
    """Publishes both follower joint states (+ optionally cameras) at 50 Hz while `running`; `arm` is
    the pose of both arms, `drop` a joint left out of the right arm's messages."""

    def __init__(self, ros_node, camera: bool, cameras: tuple[str, ...] = ("cam_high",)) -> None:
        node = ros_node.node
        self.node = node
        self.running = True
        self.arm = list(ARM)
        self.drop: str | None = None
        self.stamps: list = []
        self.joint_pubs = [node.create_publisher(JointState, topic, 10) for topic in ROBOT.follower_topics]
        self.image_pubs = [node.create_publisher(Image, ROBOT.camera(c).topic, 10) for c in cameras] if camera else []
        node.create_timer(0.02, self._tick)

    def _tick(self) -> None:
        if not self.running:
            return
        stamp = self.node.get_clock().now().to_msg()
        self.stamps.append(stamp)
        for index, pub in enumerate(self.joint_pubs):
            names, values = ["left_finger", *ARM_JOINTS, GRIPPER_JOINT], [0.0, *self.arm, 0.057]
            if index == 1 and self.drop in names:
                values.pop(names.index(self.drop))
                names.remove(self.drop)
            msg = JointState(name=names, position=values)
            msg.header.stamp = stamp
            pub.publish(msg)
        for pub in self.image_pubs:
            img = Image(height=12, width=16, encoding="rgb8", step=48, data=RGB.tobytes())
            img.header.stamp = stamp
            pub.publish(img)


def start_policy(start_process, port: int, *extra: str):
    return start_process("recap_policy.policy_node", "--ros-args", "-p", "backend:=remote",
                         "-p", f"remote_port:={port}", "-p", "remote_host:=127.0.0.1",
                         "-p", "inference_every:=5", "-p", "max_observation_age_s:=0.3", "-p", "warn_period_s:=0.2",
                         *extra)


def expected_qpos(arm_pose=ARM) -> np.ndarray:
    arm = np.array([*arm_pose, 1.0])  # gripper 0.057 raw = open = 1.0 (the description's calibration)
    return np.concatenate([arm, arm])


def test_chunks_and_command_stream_from_images_and_joint_states(ros_node, start_process):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    with OpenpiTestServer(horizon=20, offset=0.05, metadata={"cameras": ["cam_high"]}) as server:
        robot = FakeRobot(ros_node, camera=True)
        proc = start_policy(start_process, server.port, "-p", "scheduler:=rtc")
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
    with OpenpiTestServer(horizon=20, metadata=STATE_ONLY) as server:
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
    with OpenpiTestServer(horizon=20, metadata=STATE_ONLY) as server:
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
        proc = start_policy(start_process, server.port, "-p", "startup_timeout_s:=1.0")
        wait_until(lambda: "no frame from camera topic(s) ['/cam_left_wrist/image_raw']" in proc.log(), 20.0,
                   "the silent camera named")
        assert chunks.messages == [] and server.requests == []
        FakeRobot(ros_node, camera=True, cameras=("cam_left_wrist",))
        chunks.wait_for(1, timeout=20.0)
    assert "every camera delivered a frame" in proc.log()
    assert "observation unusable" not in proc.log().split("every camera delivered")[0]  # startup is not a fault


def statuses(msg: DiagnosticArray) -> dict:
    return {s.name: from_message(s) for s in msg.status}


def lifecycle_state(msg: DiagnosticArray) -> str | None:
    status = statuses(msg).get("policy_node: lifecycle")
    return None if status is None else status.values["state"]


def test_commands_only_while_active_and_a_reactivation_starts_from_the_current_pose(ros_node, start_process,
                                                                                   domain_id):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    diagnostics = ros_node.collect(DiagnosticArray, "/diagnostics")
    max_step = 0.1
    with OpenpiTestServer(horizon=20, offset=0.05, metadata=STATE_ONLY) as server:
        robot = FakeRobot(ros_node, camera=False)
        start_policy(start_process, server.port, "-p", "autostart:=false", "-p", f"max_step:={max_step}")
        diagnostics.wait_for(1, timeout=30, predicate=lambda m: lifecycle_state(m) == "unconfigured")
        drive_transitions(["policy_node"], ("configure",), domain_id=domain_id)
        n = len(diagnostics.messages)
        diagnostics.wait_for(n + 2, timeout=10)  # two diagnostics periods configured but inactive ...
        assert commands.messages == [] and chunks.messages == [] and server.requests == []  # ... nothing

        drive_transitions(["policy_node"], ("activate",), domain_id=domain_id)
        commands.wait_for(1, timeout=20, predicate=lambda m: np.allclose(
            reorder_by_name(m.name, m.position), expected_qpos() + 0.05, atol=1e-5))
        drive_transitions(["policy_node"], ("deactivate",), domain_id=domain_id)
        diagnostics.wait_for(1, timeout=10, predicate=lambda m: lifecycle_state(m) == "inactive")
        seen, n = len(commands.messages), len(diagnostics.messages)
        diagnostics.wait_for(n + 2, timeout=10)
        assert len(commands.messages) == seen  # no command since the deactivation

        # Meanwhile the arms were moved (by the operator): further than max_step, less than a pose jump.
        moved = [a + 0.3 for a in ARM]
        robot.arm = moved
        requests = len(server.requests)
        wait_until(lambda: len(robot.stamps) > seen + 10, 10, "the moved pose published")
        drive_transitions(["policy_node"], ("activate",), domain_id=domain_id)
        after = commands.wait_for(seen + 10, timeout=20)[seen:]
        assert len(server.requests) > requests
    target = expected_qpos(moved) + 0.05
    poses = [reorder_by_name(m.name, m.position) for m in after]
    # The old plan is not resumed: the first command is already the new chunk's, max_step from the arms.
    np.testing.assert_allclose(poses[0], target, atol=1e-5)
    assert np.abs(poses[0] - expected_qpos(moved)).max() <= max_step + 1e-9
    assert all(np.abs(b - a).max() <= max_step + 1e-9 for a, b in zip(poses, poses[1:]))


def test_diagnostics_report_inference_commands_and_cameras(ros_node, start_process):
    diagnostics = ros_node.collect(DiagnosticArray, "/diagnostics")
    with OpenpiTestServer(horizon=20, metadata={"cameras": ["cam_high", "cam_left_wrist"]}) as server:
        FakeRobot(ros_node, camera=True, cameras=("cam_high",))
        start_policy(start_process, server.port, "-p", "startup_timeout_s:=1.0")
        got = diagnostics.wait_for(1, timeout=30, predicate=lambda m: "policy_node: cameras" in statuses(m)
                                   and statuses(m)["policy_node: cameras"].level == Level.ERROR)[-1]
    found = statuses(got)
    cameras = found["policy_node: cameras"]
    assert "cam_left_wrist" in cameras.message and float(cameras.values["cam_high.age_s"]) >= 0
    assert {"cam_high.rate_hz", "cam_left_wrist.rate_hz", "cam_left_wrist.age_s"} <= set(cameras.values)
    assert {"latency_p50_ms", "latency_p99_ms", "chunks"} <= set(found["policy_node: inference"].values)
    commands = found["policy_node: commands"]
    assert {"command_rate_hz", "stale_inputs"} <= set(commands.values)
    assert "no message yet on /cam_left_wrist/image_raw" in commands.values["stale_inputs"]
    assert found["policy_node: lifecycle"].values["state"] == "active"


def test_a_message_missing_a_joint_holds_the_command_and_is_warned_once(ros_node, start_process):
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    with OpenpiTestServer(horizon=20, metadata=STATE_ONLY) as server:
        robot = FakeRobot(ros_node, camera=False)
        proc = start_policy(start_process, server.port)
        chunks.wait_for(2, timeout=30.0)
        robot.drop = "elbow"
        wait_until(lambda: "missing joint(s) ['elbow']" in proc.log(), 10.0, "the missing joint named")
        commands.wait_for(len(commands.messages) + 10, timeout=10.0)  # let in-flight chunks land
        n_chunks, n_cmds = len(chunks.messages), len(commands.messages)
        commands.wait_for(n_cmds + 25, timeout=10.0)  # the stream goes on, holding ...
        assert len(chunks.messages) == n_chunks  # ... without a new chunk
        tail = [reorder_by_name(m.name, m.position) for m in commands.messages[n_cmds:]]
        robot.drop = None
        chunks.wait_for(n_chunks + 1, timeout=20.0)  # complete messages again: chunks again
    assert all(np.array_equal(t, tail[0]) for t in tail)
    assert proc.proc.poll() is None
    assert proc.log().count("this arm's state is unusable until a complete message arrives") == 1


def test_a_checkpoint_of_another_robot_is_refused_at_configure(ros_node, start_process, domain_id, tmp_path):
    diagnostics = ros_node.collect(DiagnosticArray, "/diagnostics")
    ckpt = write_tiny_checkpoint(tmp_path / "arm", robot="single_arm_6dof")
    start_process("recap_policy.policy_node", "--ros-args", "-p", f"checkpoint:={ckpt}", "-p", "autostart:=false")
    diagnostics.wait_for(1, timeout=30, predicate=lambda m: lifecycle_state(m) == "unconfigured")
    with pytest.raises(TransitionError) as err:
        drive_transitions(["policy_node"], domain_id=domain_id)
    single = load_robot("single_arm_6dof")
    message = str(err.value)
    assert message.startswith("policy_node failed to configure: ")
    assert f"trained for robot 'single_arm_6dof' (description hash {single.description_hash()})" in message
    assert f"this node runs robot 'aloha_sim' (description {ROBOT.source}, hash {ROBOT.description_hash()})" in message
    n = len(diagnostics.messages)
    last = diagnostics.wait_for(n + 1, timeout=10)[-1]
    assert lifecycle_state(last) == "unconfigured"
