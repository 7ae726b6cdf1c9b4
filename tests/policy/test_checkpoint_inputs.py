"""What a checkpoint reads must be what the robot publishes: refused at startup, with the fix named."""
import pytest

from recap_policy.backends import BackendMetadata, Conditioning
from recap_policy.backends.checkpoint import CheckpointBackend
from recap_policy.checkpoint_inputs import refuse_privileged_state
from recap_policy.config import PARAMETERS, PolicyNodeConfig
from tiny_checkpoint import STATE_NAMES, write_tiny_checkpoint


def test_privileged_state_is_refused_unless_allowed():
    meta = BackendMetadata(policy_id="state-abc", state_names=STATE_NAMES)
    with pytest.raises(ValueError) as err:
        refuse_privileged_state(meta, allowed=False)
    assert str(err.value).startswith(
        "state-abc: this checkpoint reads simulator-only object state (env_state, 10 features: cube_x, cube_y, "
        "cube_z, cube_qw, ...); a real robot publishes cameras and joints only: train with cameras")
    assert "allow_privileged_state:=true" in str(err.value)
    refuse_privileged_state(meta, allowed=True)
    refuse_privileged_state(BackendMetadata(policy_id="img", cameras=("cam_high",)), allowed=False)


def test_the_parameter_defaults_to_a_real_robot():
    assert PARAMETERS["allow_privileged_state"][0] is False
    params = {k: v for k, (v, _) in PARAMETERS.items()}
    assert PolicyNodeConfig.from_parameters({**params, "backend": "remote"}).allow_privileged_state is False


def test_cameras_the_configuration_lacks_are_named_with_the_checkpoint():
    params = {k: v for k, (v, _) in PARAMETERS.items()}
    cfg = PolicyNodeConfig.from_parameters({**params, "backend": "remote", "camera_topics": ["/cam_high/image_raw"]})
    with pytest.raises(ValueError) as err:
        cfg.camera_topic_map(("cam_high", "cam_left_wrist"), "img-123")
    assert str(err.value).startswith("img-123: this checkpoint was trained with camera(s) ['cam_high', "
                                     "'cam_left_wrist']; camera_topics ['/cam_high/image_raw'] lacks "
                                     "['cam_left_wrist']: add a topic for each (e.g. /cam_left_wrist/image_raw)")


def test_a_state_model_without_feature_names_is_refused(tmp_path):
    # the node would subscribe to no object state and every inference would fail on the robot
    ckpt = write_tiny_checkpoint(tmp_path / "unnamed", state_names=None)
    with pytest.raises(ValueError, match="the model reads 10 object-state features .env_state. but its metadata names 0"):
        CheckpointBackend(ckpt, Conditioning())
