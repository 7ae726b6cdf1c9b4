"""Bags recorded with plain `ros2 bag record` from the real ALOHA drivers convert with their images.

The bags are written by the `rosbags` library (MCAP and sqlite3), never by the project's recorder:
9-joint Interbotix JointStates at 100 Hz with jitter, JPEG CompressedImage frames at 30 fps on
RealSense topics; the robot description `aloha` says which topics, joints and calibrations they are.
"""
from __future__ import annotations

import numpy as np
import pytest
from converter.bagfactory import (REAL_CAMERA_TOPIC, BagSpec, RealDriverSpec, write_real_driver_bag, write_rosbags,
                                  write_split_sqlite_bag)

from recap_core.robot_description import load_robot
from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.episode_builder import EpisodeBuilder
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import DatasetError, RecapDataset

ALOHA = load_robot("aloha")
CAMS = ("cam_high", "cam_left_wrist")


def config(**fields) -> ConverterConfig:
    return ConverterConfig(**{"robot": ALOHA, "cameras": CAMS, "image_size": (24, 32), "stale_policy": "flag",
                              "missing_outcome": "failure", **fields})


def warnings_of(report, bag) -> str:
    return " | ".join(report.warnings.get(str(bag.resolve()), []))


def test_jpeg_cameras_at_30fps_align_to_50hz_with_the_camera_gap_flagged(tmp_path):
    bag = write_real_driver_bag(tmp_path / "real", RealDriverSpec(seconds=2.0, camera_gap_s=(0.8, 1.2)))
    report = build_dataset([bag], tmp_path / "ds", config(), task="pour", progress=False)
    assert report.converted, report.failed
    ds = RecapDataset(tmp_path / "ds")
    assert (ds.robot.name, ds.robot.description_hash, ds.robot.joint_names) == \
        ("aloha", ALOHA.description_hash(), ALOHA.joint_names)
    ep = ds[0]
    assert 95 <= ep.num_steps <= 100 and ep.images["cam_high"].shape == (ep.num_steps, 24, 32, 3)
    # cam_high sends nothing for 0.4 s: the steps more than 0.1 s after its last frame are flagged
    drops = ep.metadata["camera_drops"]
    assert set(drops) == {"cam_high"} and drops["cam_high"]["gaps"] == 1
    stale = drops["cam_high"]["stale_steps"]
    assert 12 <= stale <= 18 and ep.metadata["stale_steps"] == stale
    # each step holds the latest 30 fps frame (red = 10 * frame index), by header stamp
    t = ep.timestamps + (ep.metadata["start_time_ns"] - 1_700_000_000 * 10**9) / 1e9
    expected = (np.floor(t * 30 + 1e-6).astype(int) * 10) % 256
    red = ep.images["cam_left_wrist"][:, :, :, 0].mean(axis=(1, 2))
    assert np.abs(red - expected).max() <= 4
    # 9 joints by name: the finger joints are ignored, the gripper normalised with the ALOHA calibration
    k = np.round(t * 100)
    assert np.abs(ep.qpos[:, 0] - 0.001 * k).max() <= 0.0011  # left_waist
    assert np.abs(ep.qpos[:, 8] - (0.1 + 0.5 + 0.001 * k)).max() <= 0.0011  # right_shoulder
    assert set(np.round(ep.qpos[:, 6], 6)) <= {0.0, 1.0}
    text = warnings_of(report, bag)
    assert "using the leader arms" in text and "neither mapped nor ignored" not in text


def test_a_sqlite3_bag_split_into_several_files_converts_in_full(tmp_path):
    bag = write_split_sqlite_bag(tmp_path / "split", RealDriverSpec(seconds=1.5, hw=(48, 64)), parts=3)
    assert len(list(bag.glob("*.db3"))) == 3
    episode, warnings = EpisodeBuilder(config()).build(bag, task="pour")
    assert episode.num_steps >= 72 and episode.timestamps[-1] >= 1.44
    assert episode.metadata["complete"] is True


def test_header_stamps_all_zero_align_by_receive_time_with_a_warning(tmp_path):
    bag = write_real_driver_bag(tmp_path / "zero", RealDriverSpec(seconds=1.0, hw=(48, 64), zero_stamps=True))
    report = build_dataset([bag], tmp_path / "ds", config(), task="pour", progress=False)
    assert report.converted, report.failed
    text = warnings_of(report, bag)
    for topic in ("/follower_left/joint_states", REAL_CAMERA_TOPIC.format(cam="cam_high")):
        assert f"{topic}: " in text and "header stamps are zero; aligning this topic by receive time" in text
    assert RecapDataset(tmp_path / "ds")[0].num_steps >= 45


def test_a_bag_cut_by_a_crash_is_salvaged(tmp_path):
    bag = write_real_driver_bag(tmp_path / "crashed", RealDriverSpec(seconds=6.0))  # ~3 MB: 3 chunks of 1 MiB
    (bag / "metadata.yaml").unlink()  # ros2 bag record writes it on a clean stop only
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size * 3 // 4])
    report = build_dataset([bag], tmp_path / "ds", config(), task="pour", progress=False)
    assert report.converted, report.failed
    text = warnings_of(report, bag)
    assert "no metadata.yaml" in text and "truncated or corrupt" in text
    ep = RecapDataset(tmp_path / "ds")[0]
    assert ep.metadata["complete"] is False and 50 < ep.num_steps < 250


def test_a_joint_the_bag_never_publishes_is_named(tmp_path):
    bag = write_real_driver_bag(tmp_path / "noelbow", RealDriverSpec(seconds=0.5, hw=(48, 64), drop_joint="elbow"))
    report = build_dataset([bag], tmp_path / "ds", config(), task="pour", progress=False)
    error = report.failed[str(bag.resolve())]
    assert "/follower_left/joint_states: no usable messages" in error and "missing joint(s) ['elbow']" in error


def test_frames_of_another_size_are_resized_and_said_once(tmp_path):
    bag = write_real_driver_bag(tmp_path / "small", RealDriverSpec(seconds=1.0, hw=(240, 320)))
    episode, warnings = EpisodeBuilder(config()).build(bag, task="pour")
    assert episode.images["cam_high"].shape[1:] == (24, 32, 3)
    said = [w for w in warnings if "frames are 240x320, robot 'aloha' expects 480x640" in w]
    assert len(said) == 2 and all(any(REAL_CAMERA_TOPIC.format(cam=c) in w for w in said) for c in CAMS)


def test_unknown_extra_joints_are_ignored_by_name(tmp_path):
    bag = write_real_driver_bag(tmp_path / "extra", RealDriverSpec(seconds=0.5, hw=(48, 64),
                                                                   extra_joints=("vendor_temp",)))
    episode, warnings = EpisodeBuilder(config()).build(bag, task="pour")
    said = [w for w in warnings if "['vendor_temp'] are neither mapped nor ignored by robot 'aloha'" in w]
    assert len(said) == 2  # once per follower topic
    assert episode.qpos.shape[1] == 14


def test_a_camera_the_description_lacks_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"cameras \['cam_low'\] are not in robot 'aloha'"):
        ConverterConfig(robot=ALOHA, cameras=("cam_low",), image_size=(24, 32))


def test_a_dataset_of_another_description_is_refused_naming_both(tmp_path):
    sim_bag = write_rosbags(tmp_path / "sim", BagSpec(command_step=0.01))
    sim = ConverterConfig(cameras=("cam_high",), image_size=(24, 32), control_period=0.02)
    assert build_dataset([sim_bag], tmp_path / "ds", sim, progress=False).converted
    real_bag = write_real_driver_bag(tmp_path / "real", RealDriverSpec(seconds=0.5, hw=(48, 64)))
    with pytest.raises(DatasetError) as error:
        build_dataset([real_bag], tmp_path / "ds", config(cameras=("cam_high",)), task="pour", progress=False)
    message = str(error.value)
    assert f"holds robot description 'aloha_sim' (hash {load_robot('aloha_sim').description_hash()}, 14 joints)" in message
    assert f"this build uses robot description 'aloha' (hash {ALOHA.description_hash()}, 14 joints)" in message
    assert len(RecapDataset(tmp_path / "ds")) == 1


def test_cli_builds_a_real_driver_bag_with_robot_aloha(tmp_path, capsys):
    bag = write_real_driver_bag(tmp_path / "bags" / "real", RealDriverSpec(seconds=0.6, hw=(48, 64)))
    args = ["dataset", "build", str(tmp_path / "bags"), "--out", str(tmp_path / "ds"), "--robot", "aloha",
            "--image-size", "24", "32", "--task", "pour", "--missing-outcome", "failure"]
    assert recap_main(args) == 1  # the description's third camera was not recorded
    assert "/cam_right_wrist/camera/color/image_rect_raw/compressed: camera 'cam_right_wrist' of robot 'aloha' " \
           "missing" in capsys.readouterr().err
    assert recap_main([*args, "--cameras", ",".join(CAMS)]) == 0, capsys.readouterr().err
    ep = RecapDataset(tmp_path / "ds")[0]
    assert ep.episode_id == bag.name and set(ep.images) == set(CAMS)
