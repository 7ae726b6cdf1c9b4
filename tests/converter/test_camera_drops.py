"""Camera frames dropped while recording: the affected steps are flagged (or dropped) and counted per
camera; nothing else of the episode is lost."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from converter.bagfactory import PERIOD_NS, T0, TS, BagSpec, frame, messages, qpos_value
from rosbags.rosbag2 import StoragePlugin, Writer

from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.dataset import RecapDataset

CAMS = ("cam_high", "cam_left_wrist")
FLAG = ConverterConfig(cameras=CAMS, image_size=(24, 32), stale_policy="flag", min_valid_fraction=0.25)
DROP = ConverterConfig(cameras=CAMS, image_size=(24, 32), min_valid_fraction=0.25)
WRIST = "/cam_left_wrist/image_raw"


def write_without(path: Path, spec: BagSpec, topic: str, steps: range) -> Path:
    """The factory's bag with `topic`'s messages of `steps` left out (one stalled camera driver)."""
    drop = {T0 + k * PERIOD_NS for k in steps}
    conns = {}
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        for t, msgtype, log_ns, msg in messages(spec):
            if t == topic and msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec in drop:
                continue
            if t not in conns:
                conns[t] = w.add_connection(t, msgtype, typestore=TS)
            w.write(conns[t], log_ns, TS.serialize_cdr(msg, msgtype))
    return path


def convert(tmp_path: Path, bag: Path, cfg: ConverterConfig, name: str):
    report = build_dataset([bag], tmp_path / name, cfg, progress=False)
    assert report.converted, report.failed
    return report, RecapDataset(tmp_path / name)[0]


def expected_qpos_left_waist(steps: list[int]) -> np.ndarray:
    return np.array([qpos_value(k, 0, 0) for k in steps])


def test_a_gap_in_one_camera_flags_its_steps_and_counts_them_per_camera(tmp_path):
    bag = write_without(tmp_path / "gap", BagSpec(steps=40, cameras=CAMS, command_step=0.01), WRIST, range(10, 25))
    report, ep = convert(tmp_path, bag, FLAG, "flag")
    # frames stop after step 9: with a 0.1 s tolerance steps 15..24 have no fresh wrist frame
    assert ep.num_steps == 40 and ep.metadata["stale_steps"] == 10
    assert ep.metadata["camera_drops"] == {"cam_left_wrist": {"stale_steps": 10, "gaps": 1, "longest_gap_s": 0.3}}
    key = f"{WRIST}: frames dropped, none within 0.1 s"
    assert report.stale_steps[str(bag.resolve())] == {key: 10}
    np.testing.assert_allclose(ep.qpos[:, 0], expected_qpos_left_waist(list(range(40))))
    assert ep.images["cam_high"][:, 0, 0, 0].tolist() == [(k * 10) % 256 for k in range(40)]
    assert ep.images["cam_left_wrist"][20, 0, 0, 0] == 90  # a flagged step holds the last frame (step 9)


def test_a_camera_that_stops_before_the_end_does_not_shorten_the_episode(tmp_path):
    bag = write_without(tmp_path / "stop", BagSpec(steps=40, cameras=CAMS, command_step=0.01), WRIST, range(30, 40))
    _, flagged = convert(tmp_path, bag, FLAG, "flag")
    # every step the arms and commands were recorded is kept; steps 35..39 lack a fresh wrist frame
    assert flagged.num_steps == 40 and flagged.metadata["stale_steps"] == 5
    assert flagged.metadata["camera_drops"]["cam_left_wrist"]["stale_steps"] == 5
    np.testing.assert_allclose(flagged.executed_action[-1, 0], 0.39)
    report, dropped = convert(tmp_path, bag, DROP, "drop")
    assert dropped.num_steps == 35 and dropped.metadata["stale_steps"] == 5
    assert any("5 of 40 steps have a stale observation stream (dropped)" in w
               for w in report.warnings[str(bag.resolve())])


def test_no_drops_no_counts(tmp_path):
    bag = write_without(tmp_path / "clean.bag", BagSpec(steps=20, cameras=CAMS, command_step=0.01), WRIST, range(0))
    _, ep = convert(tmp_path, bag, FLAG, "clean")
    assert ep.num_steps == 20 and ep.metadata["camera_drops"] == {} and ep.metadata["stale_steps"] == 0
    assert frame(3, (48, 64))[0, 0, 0] == 30  # the factory's frame k carries k * 10 in red
