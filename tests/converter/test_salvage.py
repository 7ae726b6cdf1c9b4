"""Bad messages inside a good bag: skipped or made stale and counted, the rest of the episode kept.

An episode is refused only when too few steps are left (`min_valid_fraction`), with counts per reason.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from converter.bagfactory import BagSpec, write_rosbags

from recap_trainer.bags.build import build_dataset
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.bags.episode_builder import EpisodeBuilder
from recap_trainer.bags.errors import BagError
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import RecapDataset

CFG = ConverterConfig(cameras=("cam_high",), image_size=(24, 32))
REALISTIC = dict(command_step=0.01)  # commands inside the joint limits


def test_commands_the_arbiter_rejected_are_skipped_and_counted(tmp_path):
    bag = write_rosbags(tmp_path / "badcmd", BagSpec(**REALISTIC, bad_proposals={4: "seven_joints", 6: "nan"}))
    episode, warnings = EpisodeBuilder(CFG).build(bag)
    assert episode.num_steps == 20 and episode.metadata["stale_steps"] == 0
    assert episode.metadata["skipped_messages"] == {"/policy/command: missing joints": 1,
                                                    "/policy/command: NaN or inf": 1}
    # step 4 holds the proposal of step 2 while it is fresh (0.05 s); steps 5-7 have none
    assert episode.proposed_action[4, 0] == 2.5 and np.isnan(episode.proposed_action[5:8]).all()
    assert episode.proposed_action[8, 0] == 8.5
    text = " | ".join(warnings)
    assert "/policy/command: 2 messages skipped" in text and "1 missing joints" in text and "1 NaN or inf" in text


def test_nan_follower_readings_make_their_steps_stale_dropped_or_flagged(tmp_path):
    burst = {k: np.nan for k in range(10, 16)}
    bag = write_rosbags(tmp_path / "nanburst", BagSpec(steps=40, follower_override=burst, **REALISTIC))
    report = build_dataset([bag], tmp_path / "drop", CFG, progress=False)
    assert report.converted, report.failed
    assert report.stale_steps == {str(bag.resolve()): {"/follower_left/joint_states: NaN or inf": 6}}
    ep = RecapDataset(tmp_path / "drop")[0]
    assert ep.num_steps == 34 and ep.metadata["stale_steps"] == 6
    assert np.round(ep.timestamps / 0.02).astype(int).tolist() == [*range(10), *range(16, 40)]
    assert ep.metadata["stale_reasons"] == {"/follower_left/joint_states: NaN or inf": 6}
    flag = ConverterConfig(cameras=("cam_high",), image_size=(24, 32), stale_policy="flag")
    flagged, _ = EpisodeBuilder(flag).build(bag)
    assert flagged.num_steps == 40 and flagged.metadata["stale_steps"] == 6
    # a flagged step holds the last good reading (step 9), never the NaN
    np.testing.assert_allclose(flagged.qpos[12, 1], flagged.qpos[9, 1])


def test_readings_and_commands_outside_the_joint_limits_are_named(tmp_path):
    bag = write_rosbags(tmp_path / "absurd", BagSpec(steps=30, follower_override={7: 1e30},
                                                     executed_override={12: 50.0}, **REALISTIC))
    episode, warnings = EpisodeBuilder(CFG).build(bag)
    assert episode.num_steps == 29 and episode.metadata["stale_reasons"] == {
        "/follower_left/joint_states: outside the joint limits": 1}
    assert episode.metadata["skipped_messages"] == {"/executed_command: outside the joint limits": 1}
    assert np.abs(episode.qpos).max() < 3.2 and np.abs(episode.executed_action).max() < 3.2
    text = " | ".join(warnings)
    assert "step 7" in text and "left_shoulder = 1e+30" in text
    assert "/executed_command" in text and "left_waist = 50" in text and "step 12" in text


def test_an_episode_with_too_little_left_is_refused_with_counts_per_reason(tmp_path):
    burst = {k: np.nan for k in range(3, 17)}
    bag = write_rosbags(tmp_path / "mostlybad", BagSpec(follower_override=burst, **REALISTIC))
    with pytest.raises(BagError) as error:
        EpisodeBuilder(CFG).build(bag)
    message = str(error.value)
    assert str(bag) in message and "6 of 20 steps" in message and "--min-valid-fraction 0.5" in message
    assert "14 /follower_left/joint_states: NaN or inf (first at step 3: left_shoulder = nan)" in message
    lenient = ConverterConfig(cameras=("cam_high",), image_size=(24, 32), min_valid_fraction=0.25)
    assert EpisodeBuilder(lenient).build(bag)[0].num_steps == 6


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_min_valid_fraction_is_validated(fraction):
    with pytest.raises(ValueError, match="min_valid_fraction"):
        ConverterConfig(min_valid_fraction=fraction)


def test_follower_with_wrong_joint_names_everywhere_is_refused_naming_the_topic(tmp_path):
    names = ["waist", "shoulder", "elbow", "forearm", "wrist", "rot", "grip", "a", "b"]
    bag = write_rosbags(tmp_path / "names", BagSpec(follower_names=names, **REALISTIC))
    with pytest.raises(BagError, match=r"/follower_left/joint_states: no usable messages \(20 received: "
                                       r"20 missing joints"):
        EpisodeBuilder(CFG).build(bag)


def test_empty_and_foreign_files_are_named_as_such(tmp_path):
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"")
    foreign = tmp_path / "random.mcap"
    foreign.write_bytes(bytes(range(7, 71)))
    not_sqlite = tmp_path / "text.db3"
    not_sqlite.write_text("hello")
    not_a_bag = tmp_path / "notes"
    not_a_bag.mkdir()
    (not_a_bag / "readme.txt").write_text("x")
    with pytest.raises(BagError, match=f"^{empty}: empty file$"):
        EpisodeBuilder(CFG).build(empty)
    with pytest.raises(BagError, match=rf"^{foreign}: not an MCAP file \(starts with b'\\x07\\x08"):
        EpisodeBuilder(CFG).build(foreign)
    with pytest.raises(BagError, match=rf"^{not_sqlite}: not an SQLite file \(starts with b'hello'\)"):
        EpisodeBuilder(CFG).build(not_sqlite)
    with pytest.raises(BagError, match="not a rosbag2 directory"):
        EpisodeBuilder(CFG).build(not_a_bag)


def test_cli_reports_stale_steps_and_takes_min_valid_fraction(tmp_path, capsys):
    burst = {k: np.nan for k in range(3, 17)}
    bag = write_rosbags(tmp_path / "bags" / "mostlybad", BagSpec(follower_override=burst, **REALISTIC))
    args = ["dataset", "build", str(bag), "--cameras", "cam_high", "--image-size", "24", "32"]
    assert recap_main([*args, "--out", str(tmp_path / "strict")]) == 1
    assert "6 of 20 steps" in capsys.readouterr().err
    assert recap_main([*args, "--out", str(tmp_path / "lenient"), "--min-valid-fraction", "0.2"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["converted"] == 1
    assert summary["stale_steps"] == {"/follower_left/joint_states: NaN or inf": 14}
    with pytest.raises(SystemExit):
        recap_main([*args, "--out", str(tmp_path / "x"), "--min-valid-fraction", "2"])
    assert "--min-valid-fraction" in capsys.readouterr().err
