"""The recorder node's parameter table and the bag player's options, turned into configs without ROS."""
from __future__ import annotations

import pytest

from recap_core.aloha_layout import CAMERA_NAMES
from recap_recorder import bag_player_node
from recap_recorder.config import PARAMETERS, PlaybackConfig, RecorderConfig

DEFAULTS = {name: default for name, (default, _) in PARAMETERS.items()}


def test_every_parameter_is_described():
    assert all(isinstance(text, str) and text for _, text in PARAMETERS.values())


def test_defaults_give_the_aloha_topics_and_limits():
    cfg = RecorderConfig.from_parameters(DEFAULTS)
    assert cfg.out_dir == "bags" and cfg.robot_id == "aloha" and cfg.iteration == 0
    assert [t.name for t in cfg.topics[:3]] == [f"/{c}/image_raw" for c in CAMERA_NAMES]
    assert "/clock" in [t.name for t in cfg.topics]
    assert cfg.queue_size == 2000 and cfg.queue_max_bytes == 512 * 1024**2
    assert cfg.min_free_bytes == 2_000_000_000 and cfg.flush_interval_s == 1.0


def test_camera_list_none_records_no_cameras_and_rates_reach_the_topics():
    cfg = RecorderConfig.from_parameters({**DEFAULTS, "cameras": ["none"], "sim": False, "joint_rate_hz": 50.0,
                                          "compressed_images": True})
    names = [t.name for t in cfg.topics]
    assert not any("image" in n for n in names) and "/clock" not in names
    assert cfg.topic("/follower_left/joint_states").rate_hz == 50.0


def test_bad_parameter_values_are_refused_by_name():
    with pytest.raises(ValueError, match="flush_interval_s must be > 0, got 0.0"):
        RecorderConfig.from_parameters({**DEFAULTS, "flush_interval_s": 0.0})
    with pytest.raises(ValueError, match="out_dir must be set"):
        RecorderConfig.from_parameters({**DEFAULTS, "bag_dir": ""})


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
