"""The recorder node's parameter table and the bag player's options, turned into configs without ROS."""
from __future__ import annotations

import pytest

from recap_core.robot_description import load_robot
from recap_recorder import bag_player_node
from recap_recorder.config import PARAMETERS, PlaybackConfig, RecorderConfig, stack_topics

DEFAULTS = {name: default for name, (default, _) in PARAMETERS.items()}
JOINT_STATE, IMAGE, COMPRESSED = "sensor_msgs/msg/JointState", "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"


def test_every_parameter_is_described():
    assert all(isinstance(text, str) and text for _, text in PARAMETERS.values())


def test_defaults_record_the_simulated_aloha_and_keep_the_limits():
    robot = load_robot(DEFAULTS["robot"])
    cfg = RecorderConfig.from_parameters(DEFAULTS, robot)
    assert cfg.out_dir == "bags" and cfg.robot_id == "aloha_sim" and cfg.iteration == 0
    assert (cfg.robot_description, cfg.robot_description_hash) == ("aloha_sim", robot.description_hash())
    cams = [cfg.topic(cam.topic) for cam in robot.cameras]
    assert [(t.name, t.msgtype, t.rate_hz) for t in cams] == [(c.topic, IMAGE, 10.0) for c in robot.cameras]
    assert cfg.topic("/follower_left/command").msgtype == JOINT_STATE  # the joint_state adapter's outputs
    assert "/clock" in [t.name for t in cfg.topics] and not cfg.skipped_topics
    assert cfg.queue_size == 2000 and cfg.queue_max_bytes == 512 * 1024**2
    assert cfg.min_free_bytes == 2_000_000_000 and cfg.flush_interval_s == 1.0


def test_single_arm_records_exactly_its_description_and_the_stack_topics():
    cfg = RecorderConfig.from_parameters({**DEFAULTS, "robot": "single_arm_6dof", "sim": False,
                                          "joint_rate_hz": 100.0}, load_robot("single_arm_6dof"))
    described = {(t.name, t.msgtype) for t in cfg.topics} - {(t.name, t.msgtype) for t in stack_topics(sim=False)}
    assert described == {("/joint_states", JOINT_STATE), ("/leader/joint_states", JOINT_STATE),
                         ("/scene_camera/image_raw/compressed", COMPRESSED),
                         ("/wrist_camera/image_raw/compressed", COMPRESSED),
                         ("/arm_controller/joint_trajectory", "trajectory_msgs/msg/JointTrajectory")}
    assert cfg.topic("/joint_states").rate_hz == 100.0 and cfg.topic("/scene_camera/image_raw/compressed").rate_hz == 30.0
    assert cfg.topic("/arm_controller/joint_trajectory").rate_hz is None  # commands pause: no drop expectation
    assert cfg.robot_id == "single_arm_6dof" and "/clock" not in [t.name for t in cfg.topics]


def test_interbotix_commands_are_recorded_where_installed_else_skipped():
    robot = load_robot("aloha")
    commands = [t for _, topics in robot.commands.topics for t in topics]
    skipped = RecorderConfig.from_parameters({**DEFAULTS, "robot_id": "aloha-0"}, robot,
                                             available=lambda msgtype: not msgtype.startswith("interbotix_xs_msgs/"))
    assert skipped.skipped_topics == tuple(commands) and not set(commands) & {t.name for t in skipped.topics}
    assert skipped.topic("/cam_high/camera/color/image_rect_raw/compressed").msgtype == COMPRESSED
    recorded = RecorderConfig.from_parameters(DEFAULTS, robot)
    group = recorded.topic("/follower_left/commands/joint_group")
    assert group.msgtype == "interbotix_xs_msgs/msg/JointGroupCommand" and not group.has_header
    assert recorded.topic("/follower_left/commands/joint_single").msgtype == "interbotix_xs_msgs/msg/JointSingleCommand"


def test_bad_parameter_values_are_refused_by_name():
    robot = load_robot("aloha_sim")
    with pytest.raises(ValueError, match="flush_interval_s must be > 0, got 0.0"):
        RecorderConfig.from_parameters({**DEFAULTS, "flush_interval_s": 0.0}, robot)
    with pytest.raises(ValueError, match="out_dir must be set"):
        RecorderConfig.from_parameters({**DEFAULTS, "bag_dir": ""}, robot)


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_playback_rate_must_be_finite_and_positive(rate):
    with pytest.raises(ValueError, match="--rate must be a finite number > 0"):
        PlaybackConfig(rate=rate)


def test_bag_player_refuses_a_nan_rate_before_touching_the_bag(tmp_path, capsys):
    # A NaN rate used to pass the `rate <= 0` check and play the bag unpaced.
    with pytest.raises(SystemExit) as exc:
        bag_player_node.main([str(tmp_path / "missing"), "--rate", "nan"])
    assert exc.value.code == 2
    assert "--rate must be a finite number > 0, got nan" in capsys.readouterr().err
