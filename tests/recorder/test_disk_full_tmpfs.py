"""A real full disk: a 3 MiB tmpfs fills up mid-episode (needs root to mount, as on this machine
and in CI). The episode is closed with what fitted, marked incomplete, and the recorder keeps going."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader

from recap_recorder.config import RecorderConfig, TopicSpec
from recap_recorder.lifecycle import EpisodeRecorder
from recap_recorder.msg_types import recap_typestore

TS = recap_typestore()


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def image(i: int) -> bytes:
    t = TS.types
    msg = t["sensor_msgs/msg/Image"](
        header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=1, nanosec=i), frame_id=""),
        height=256, width=256, encoding="rgb8", is_bigendian=0, step=768,
        data=np.full(256 * 256 * 3, i % 256, np.uint8))
    return bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def test_enospc_on_a_real_tiny_filesystem(tiny_disk):
    rec = EpisodeRecorder(RecorderConfig(out_dir=str(tiny_disk), topics=(TopicSpec("/cam/image_raw", "sensor_msgs/msg/Image"),),
                                         min_free_bytes=0, flush_interval_s=0.05), log=lambda m: None)
    assert rec.start("t", episode_id="big").accepted
    for i in range(30):  # 30 x 196 KB = 5.9 MB > 3 MiB
        rec.submit("/cam/image_raw", image(i), i + 1)
    res = rec.end("success")
    assert res.accepted and "incomplete" in res.message
    bag = Path(res.bag_path)
    assert bag == tiny_disk / "big"
    # whichever sidecar is on disk (final, or the start-time one if even that did not fit) says incomplete
    assert json.loads((bag / "episode.json").read_text())["complete"] is False
    if (bag / "metadata.yaml").exists():  # the summary fitted: a directly readable bag
        with Reader(bag) as reader:
            assert 0 < reader.message_count < 30
    else:  # it did not: the chunks that reached the disk are still readable record by record
        from recap_recorder.recovery import SalvageReport, iter_partial_mcap
        mcap = next(bag.glob("*.mcap"))
        assert 0 < sum(1 for _ in iter_partial_mcap(mcap, SalvageReport(str(mcap)))) < 30
    # the recorder keeps running: after freeing space the next episode records normally
    for f in bag.iterdir():
        f.unlink()
    bag.rmdir()
    assert rec.start("t", episode_id="small").accepted
    rec.submit("/cam/image_raw", image(1), 1)
    done = rec.end("success")
    assert json.loads((Path(done.bag_path) / "episode.json").read_text())["complete"] is True
