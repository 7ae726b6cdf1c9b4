"""What a checkpoint reads must be what the robot publishes: refused at configure, with the fix named."""
import json

import pytest

from recap_core.robot_description import load_robot
from recap_policy.backends import BackendMetadata, Conditioning
from recap_policy.backends.checkpoint import CheckpointBackend
from recap_policy.checkpoint_inputs import (camera_inputs, read_checkpoint_robot, refuse_other_dimension,
                                            refuse_other_robot, refuse_privileged_state)
from recap_policy.config import PARAMETERS, PolicyNodeConfig
from tiny_checkpoint import STATE_NAMES, write_tiny_checkpoint

SIM = load_robot("aloha_sim")
SINGLE = load_robot("single_arm_6dof")


def test_privileged_state_is_refused_unless_allowed():
    meta = BackendMetadata(policy_id="state-abc", joint_names=SIM.joint_names, state_names=STATE_NAMES)
    with pytest.raises(ValueError) as err:
        refuse_privileged_state(meta, allowed=False, robot=SIM)
    assert str(err.value).startswith(
        "state-abc: this checkpoint reads simulator-only object state (env_state, 10 features: cube_x, cube_y, "
        "cube_z, cube_qw, ...); a real robot publishes cameras and joints only: train with cameras for the robot "
        "(--cameras cam_high cam_left_wrist cam_right_wrist, no env_state)")
    assert "allow_privileged_state:=true" in str(err.value)
    refuse_privileged_state(meta, allowed=True, robot=SIM)
    refuse_privileged_state(BackendMetadata(policy_id="img", joint_names=SIM.joint_names, cameras=("cam_high",)),
                            allowed=False, robot=SIM)


def test_the_parameter_defaults_to_a_real_robot():
    assert PARAMETERS["allow_privileged_state"][0] is False
    params = {k: v for k, (v, _) in PARAMETERS.items()}
    assert PolicyNodeConfig.from_parameters({**params, "backend": "remote"}, SIM).allow_privileged_state is False


def test_cameras_the_description_lacks_are_named_with_both_lists():
    cams = camera_inputs(("scene",), SINGLE, "img-123")
    assert cams["scene"].topic == "/scene_camera/image_raw/compressed" and cams["scene"].encoding == "compressed"
    with pytest.raises(ValueError) as err:
        camera_inputs(("cam_high", "scene"), SINGLE, "img-123")
    assert str(err.value).startswith("img-123: this checkpoint reads camera(s) ['cam_high', 'scene']; robot "
                                     "'single_arm_6dof' (")
    assert "has ['scene', 'wrist'], not ['cam_high']" in str(err.value)


def test_a_checkpoint_of_another_robot_is_refused_naming_both(tmp_path):
    ckpt = write_tiny_checkpoint(tmp_path / "sim", robot="aloha_sim")
    trained = read_checkpoint_robot(ckpt)
    assert (trained.name, trained.description_hash, trained.joint_names) == (
        "aloha_sim", SIM.description_hash(), SIM.joint_names)
    refuse_other_robot(trained, SIM, str(ckpt))
    with pytest.raises(ValueError) as err:
        refuse_other_robot(trained, SINGLE, str(ckpt))
    message = str(err.value)
    assert f"trained for robot 'aloha_sim' (description hash {SIM.description_hash()})" in message
    assert f"robot 'single_arm_6dof' (description {SINGLE.source}, hash {SINGLE.description_hash()})" in message
    assert "train on data converted with this description" in message and "robot:=" in message


def test_a_checkpoint_without_a_robot_block_is_refused(tmp_path):
    ckpt = write_tiny_checkpoint(tmp_path / "old")
    config = json.loads((ckpt / "config.json").read_text())
    del config["robot"]
    (ckpt / "config.json").write_text(json.dumps(config))
    assert read_checkpoint_robot(ckpt) is None
    with pytest.raises(ValueError, match="the checkpoint names no robot .config.json has no 'robot' block."):
        refuse_other_robot(None, SIM, str(ckpt))


def test_a_policy_of_another_dimension_is_refused():
    refuse_other_dimension(BackendMetadata(policy_id="p", joint_names=SINGLE.joint_names), SINGLE)
    with pytest.raises(ValueError, match=r"p: the policy's actions are 14-D .*; robot 'single_arm_6dof' needs 7-D"):
        refuse_other_dimension(BackendMetadata(policy_id="p", joint_names=SIM.joint_names), SINGLE)


def test_a_state_model_without_feature_names_is_refused(tmp_path):
    # the node would subscribe to no object state and every inference would fail on the robot
    ckpt = write_tiny_checkpoint(tmp_path / "unnamed", state_names=None)
    with pytest.raises(ValueError, match="the model reads 10 object-state features .env_state. but its metadata names 0"):
        CheckpointBackend(ckpt, Conditioning(), SIM.joint_names)
