"""The built-in backend on a real (tiny, untrained) RECAP checkpoint, in-process and as a node."""
import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, JointState

from recap_core.robot_description import load_robot
from recap_msgs.msg import ActionChunk
from recap_policy.backends import Conditioning
from recap_policy.backends.checkpoint import CheckpointBackend
from recap_policy.observation import Observation
from tiny_checkpoint import HORIZON, STATE_NAMES, write_tiny_checkpoint, write_tiny_image_checkpoint

JOINTS = load_robot("aloha_sim").joint_names
SINGLE = load_robot("single_arm_6dof")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


def test_metadata_and_inference_with_a_frozen_prefix(checkpoint):
    backend = CheckpointBackend(checkpoint, Conditioning("positive", 1.5), JOINTS)
    meta = backend.metadata
    assert meta.horizon == HORIZON and meta.state_names == STATE_NAMES and meta.cameras == ()
    assert meta.supports_frozen_prefix and meta.policy_id.startswith("tiny-")
    obs = Observation(qpos=np.zeros(14), stamp_ns=0, task="transfer_cube", env_state=np.zeros(len(STATE_NAMES)))
    prefix = np.full((3, 14), 0.5)
    chunk = backend.infer(obs, frozen_prefix=prefix)
    assert chunk.shape == (HORIZON, 14) and np.isfinite(chunk).all()
    np.testing.assert_allclose(chunk[:3], prefix)  # inpainting keeps the committed rows
    assert np.abs(chunk[3:]).max() < 0.2  # un-normalised around the action mean 0 (std 0.01)
    long_prefix = np.zeros((HORIZON + 5, 14))  # longer than H - 1: trimmed, not an error
    assert backend.infer(obs, frozen_prefix=long_prefix).shape == (HORIZON, 14)


@pytest.mark.parametrize("advantage", ["positive", "negative", "unconditioned"])
def test_every_advantage_the_node_accepts_runs_the_checkpoint(checkpoint, advantage):
    from recap_policy.backends.base import ADVANTAGES

    assert advantage in ADVANTAGES
    obs = Observation(qpos=np.zeros(14), stamp_ns=0, task="transfer_cube", env_state=np.zeros(len(STATE_NAMES)))
    chunk = CheckpointBackend(checkpoint, Conditioning(advantage, 1.0), JOINTS).infer(obs)
    assert chunk.shape == (HORIZON, 14) and np.isfinite(chunk).all()


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CheckpointBackend(tmp_path / "nope", Conditioning(), JOINTS)


@pytest.mark.integration
def test_policy_node_drives_from_a_real_checkpoint_with_the_sim(ros_node, start_process, checkpoint):
    """sim node (state-only) -> policy node (checkpoint, rtc) -> chunks + commands, over real DDS."""
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    start_process("recap_sim.sim_node", "--ros-args", "-p", "task:=transfer_cube", "-p", "cameras:=['none']")
    policy = start_process("recap_policy.policy_node", "--ros-args", "-p", f"checkpoint:={checkpoint}",
                           "-p", "task:=transfer_cube", "-p", "use_sim_time:=true", "-p", "scheduler:=rtc",
                           "-p", "inference_every:=5", "-p", "allow_privileged_state:=true")
    got = chunks.wait_for(4, timeout=60.0)
    cmds = commands.wait_for(20, timeout=20.0)
    assert all(c.horizon == HORIZON and c.policy_id.startswith("tiny-") for c in got)
    assert all(np.isfinite(c.actions).all() for c in got)
    assert all(np.isfinite(c.position).all() and len(c.position) == 14 for c in cmds)
    assert got[1].header.stamp.sec + got[1].header.stamp.nanosec > 0  # sim-time observation stamps
    assert "rejected" not in policy.log()


@pytest.mark.integration
def test_a_state_checkpoint_is_refused_on_a_robot_configuration(start_process, checkpoint):
    policy = start_process("recap_policy.policy_node", "--ros-args", "-p", f"checkpoint:={checkpoint}",
                           "-p", "task:=transfer_cube")
    assert policy.wait(60.0) == 2  # before any subscription, timer or command
    assert "cannot start: policy_node failed to configure: tiny-" in policy.log()
    assert "this checkpoint reads simulator-only object state (env_state, 10 features" in policy.log()


def test_a_7d_checkpoint_runs_for_a_single_arm(tmp_path):
    ckpt = write_tiny_image_checkpoint(tmp_path / "arm", cameras=("scene", "wrist"), robot="single_arm_6dof")
    backend = CheckpointBackend(ckpt, Conditioning(), SINGLE.joint_names)
    assert backend.metadata.joint_names == SINGLE.joint_names and backend.metadata.cameras == ("scene", "wrist")
    image = np.zeros((48, 64, 3), np.uint8)
    chunk = backend.infer(Observation(qpos=np.zeros(7), stamp_ns=0, task="transfer_cube",
                                      images={"scene": image, "wrist": image}))
    assert chunk.shape == (HORIZON, 7) and np.isfinite(chunk).all()
    with pytest.raises(ValueError, match="the model's actions are 7-D, the robot's state vector has 14 joints"):
        CheckpointBackend(ckpt, Conditioning(), JOINTS)


class SingleArm:
    """single_arm_6dof's drivers: /joint_states (ros2_control names, an extra joint the description does not
    know) and two JPEG cameras, at 30 Hz."""

    def __init__(self, ros_node) -> None:
        node = ros_node.node
        self.node = node
        self.joints = node.create_publisher(JointState, "/joint_states", 10)
        self.cameras = [node.create_publisher(CompressedImage, c.topic, 10) for c in SINGLE.cameras]
        ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 100, np.uint8))
        self.jpeg = jpeg.tobytes()
        node.create_timer(1 / 30, self._tick)

    def _tick(self) -> None:
        stamp = self.node.get_clock().now().to_msg()
        msg = JointState(name=["gripper_joint", *(f"joint{i}" for i in range(1, 7)), "camera_tilt"],
                         position=[0.4, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 9.0])
        msg.header.stamp = stamp
        self.joints.publish(msg)
        for pub in self.cameras:
            img = CompressedImage(format="jpeg", data=self.jpeg)
            img.header.stamp = stamp
            pub.publish(img)


@pytest.mark.integration
def test_a_single_arm_node_runs_a_7d_checkpoint_from_its_description(ros_node, start_process, tmp_path):
    """robot:=single_arm_6dof: the node subscribes to the description's topics and commands its 7 joints."""
    ckpt = write_tiny_image_checkpoint(tmp_path / "arm", cameras=("scene", "wrist"), robot="single_arm_6dof")
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    SingleArm(ros_node)
    policy = start_process("recap_policy.policy_node", "--ros-args", "-p", "robot:=single_arm_6dof",
                           "-p", f"checkpoint:={ckpt}", "-p", "task:=transfer_cube", "-p", "inference_every:=5")
    got = chunks.wait_for(2, timeout=60.0)
    cmds = commands.wait_for(10, timeout=20.0)
    assert all((c.horizon, c.action_dim) == (HORIZON, 7) and list(c.joint_names) == list(SINGLE.joint_names)
               for c in got)
    assert all(list(c.name) == list(SINGLE.joint_names) and np.isfinite(c.position).all() for c in cmds)
    log = policy.log()
    assert "for robot single_arm_6dof (7 joints)" in log and "at 30 Hz" in log  # the description's control rate
    assert log.count("['camera_tilt'] are not in the robot description") == 1  # one warning per topic
    assert "the robot description says 480x640" in log  # the fake driver sends 120x160 frames
