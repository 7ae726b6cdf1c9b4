"""The recorder's description metadata, bag-directory check, stop-while-recording and /diagnostics
statuses, without ROS."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from recap_core.diagnostics import Level
from recap_recorder.bag_dir import BagDirError, check_bag_dir
from recap_recorder.config import RecorderConfig, TopicSpec
from recap_recorder.lifecycle import EpisodeRecorder
from recap_recorder.status import disk_status, recording_status

TOPICS = (TopicSpec("/executed_command", "sensor_msgs/msg/JointState", "reliable", 50.0),)
KEYS = {"recording", "episode_id", "episode_elapsed_s", "episodes_recorded", "drops", "bag_dir"}


def recorder(tmp_path: Path) -> EpisodeRecorder:
    cfg = RecorderConfig(out_dir=str(tmp_path / "out"), topics=TOPICS, min_free_bytes=0,
                         robot_description="single_arm_6dof", robot_description_hash="0123456789abcdef")
    return EpisodeRecorder(cfg, log=lambda m: None)


def test_every_episode_names_its_robot_description(tmp_path):
    rec = recorder(tmp_path)
    rec.start("t", episode_id="e1")
    bag = Path(rec.end("success").bag_path)
    meta = json.loads((bag / "episode.json").read_text())
    assert (meta["robot_description"], meta["robot_description_hash"]) == ("single_arm_6dof", "0123456789abcdef")
    custom = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["custom_data"]
    assert custom["recap.robot_description"] == "single_arm_6dof"
    assert custom["recap.robot_description_hash"] == "0123456789abcdef"


def test_stopping_while_recording_keeps_the_episode_as_abort(tmp_path):
    rec = recorder(tmp_path)
    assert rec.shutdown("recorder deactivated while recording") is None  # nothing recording: nothing to do
    rec.start("t", episode_id="e1")
    res = rec.shutdown("recorder deactivated while recording")
    meta = json.loads((Path(res.bag_path) / "episode.json").read_text())
    assert res.accepted and meta["outcome"] == "abort" and meta["complete"]
    assert meta["note"] == "recorder deactivated while recording" and rec.episodes_recorded == 1


def test_bag_dir_is_created_and_checked(tmp_path):
    assert check_bag_dir(tmp_path / "a" / "b", 0) > 0 and (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("")
    with pytest.raises(BagDirError, match=r"bag_dir .*file/bags cannot be created"):
        check_bag_dir(tmp_path / "file" / "bags", 0)
    with pytest.raises(BagDirError, match="free disk 1.00 GB below min_free_disk_gb 2.00 GB"):
        check_bag_dir(tmp_path, 2 * 10**9, free_bytes_fn=lambda p: 10**9)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".write-check")] == []


def test_recording_status_carries_the_consoles_keys(tmp_path):
    rec = recorder(tmp_path)
    idle = recording_status(rec, 0)
    assert idle.name == "episode_recorder: recording" and idle.level == Level.OK and set(idle.values) == KEYS
    assert idle.values["recording"] is False and idle.values["bag_dir"] == str(tmp_path / "out")
    rec.start("t", episode_id="e1", now_ns=10**9)
    busy = recording_status(rec, 13 * 10**9)
    assert busy.values["recording"] is True and busy.values["episode_id"] == "e1"
    assert busy.values["episode_elapsed_s"] == 12.0 and busy.values["drops"] == 0
    rec.session.drops.topics["/executed_command"].queue_dropped = 3
    assert recording_status(rec, 13 * 10**9).level == Level.WARN
    assert recording_status(rec, 13 * 10**9).values["drops"] == 3
    rec.end("success")
    assert recording_status(rec, 0).values["episodes_recorded"] == 1


@pytest.mark.parametrize(("free_gb", "level"), [(10.0, Level.OK), (3.0, Level.WARN), (1.0, Level.ERROR)])
def test_disk_status_warns_below_twice_the_minimum(tmp_path, free_gb, level):
    status = disk_status(tmp_path, int(free_gb * 1e9), 2 * 10**9)
    assert status.name == "episode_recorder: disk" and status.level == level
    assert status.values["free_gb"] == free_gb and status.values["min_free_gb"] == 2.0


def test_disk_status_is_an_error_when_the_free_space_cannot_be_read(tmp_path):
    status = disk_status(tmp_path, None, 0, "No such file or directory")
    assert status.level == Level.ERROR and "No such file or directory" in status.message
