"""The built-in backend on a real (tiny, untrained) RECAP checkpoint, in-process and as a node."""
import numpy as np
import pytest
from sensor_msgs.msg import JointState

from recap_msgs.msg import ActionChunk
from recap_policy.backends import Conditioning
from recap_policy.backends.checkpoint import CheckpointBackend
from recap_policy.observation import Observation
from tiny_checkpoint import HORIZON, STATE_NAMES, write_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


def test_metadata_and_inference_with_a_frozen_prefix(checkpoint):
    backend = CheckpointBackend(checkpoint, Conditioning("positive", 1.5))
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
    chunk = CheckpointBackend(checkpoint, Conditioning(advantage, 1.0)).infer(obs)
    assert chunk.shape == (HORIZON, 14) and np.isfinite(chunk).all()


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CheckpointBackend(tmp_path / "nope", Conditioning())


@pytest.mark.integration
def test_policy_node_drives_from_a_real_checkpoint_with_the_sim(ros_node, start_process, checkpoint):
    """sim node (state-only) -> policy node (checkpoint, rtc) -> chunks + commands, over real DDS."""
    chunks = ros_node.collect(ActionChunk, "/policy/action_chunk")
    commands = ros_node.collect(JointState, "/policy/command")
    start_process("recap_sim.sim_node", "--ros-args", "-p", "task:=transfer_cube", "-p", "cameras:=['none']")
    policy = start_process("recap_policy.policy_node", "--ros-args", "-p", f"checkpoint:={checkpoint}",
                           "-p", "task:=transfer_cube", "-p", "use_sim_time:=true", "-p", "scheduler:=rtc",
                           "-p", "inference_every:=5", "-p", "follower_gripper_closed:=0.021",
                           "-p", "follower_gripper_open:=0.057", "-p", "allow_privileged_state:=true")
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
    assert "cannot start: tiny-" in policy.log()
    assert "this checkpoint reads simulator-only object state (env_state, 10 features" in policy.log()
