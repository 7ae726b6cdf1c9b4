"""`recap dataset build`: bags from the recorder and from independent writers -> one RECAP dataset.

Every bad-input case of the issue sits in a batch next to good bags: it is named (file, topic)
and the rest of the batch still converts.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from converter.bagfactory import TS, BagSpec, messages, write_mcap_ros2, write_rosbags, write_sidecar

from recap_recorder.config import RecorderConfig, TopicSpec
from recap_recorder.lifecycle import EpisodeRecorder
from recap_recorder.session import _STOP
from recap_trainer.bags.build import build_dataset, find_bags
from recap_trainer.bags.config import ConverterConfig
from recap_trainer.cli import main as recap_main
from recap_trainer.dataset import RecapDataset

CFG = ConverterConfig(cameras=("cam_high",), image_size=(24, 32))


def spec(**fields) -> BagSpec:
    """A bag whose commands stay inside the joint limits (0.01 rad per step)."""
    return BagSpec(command_step=0.01, **fields)


def recorder_bag(out: Path, bag: BagSpec, crash: bool = False) -> Path:
    """A bag written by our recorder (ROS-free core fed the same serialized messages)."""
    # like the real recorder: every configured topic gets a connection, used or not
    topics = {t: TopicSpec(t, "sensor_msgs/msg/JointState", "reliable", 0.0)
              for t in ("/executed_command", "/policy/command")}
    for topic, msgtype, _ns, msg in messages(bag):
        if msg is not None and topic != "/episode_events":
            topics[topic] = TopicSpec(topic, msgtype, "reliable", 0.0)
    rec = EpisodeRecorder(RecorderConfig(out_dir=str(out), topics=tuple(topics.values()), min_free_bytes=0),
                          log=lambda m: None)
    rec.start(bag.task, episode_id="rec-ep")
    for topic, msgtype, ns, msg in messages(bag):
        if topic in topics:
            rec.submit(topic, bytes(TS.serialize_cdr(msg, msgtype)), ns)
    if crash:  # leave it as a SIGKILL would: flushed chunks, no summary, no metadata.yaml
        session = rec.session
        session._queue.put(_STOP)  # writer thread drains the queue and stops; the bag stays open
        session._thread.join(30)
        session.writer.flush()
        return session.bag_path
    return Path(rec.end("failure").bag_path)


def test_recorder_and_independent_writers_build_one_dataset(tmp_path):
    bags = [
        write_rosbags(tmp_path / "rosbags_mcap", spec()),
        write_rosbags(tmp_path / "rosbags_sqlite", spec(compressed=True), storage="sqlite3"),
        write_rosbags(tmp_path / "rosbags_sqlite_v8", spec(), storage="sqlite3", version=8),
        write_mcap_ros2(tmp_path / "mcap_lib", spec(outcome_event=2)),
        write_rosbags(tmp_path / "teleop", spec(executed=False, policy=False, intervention_steps=None)),
        recorder_bag(tmp_path / "rec", spec()),
    ]
    report = build_dataset(bags, tmp_path / "ds", CFG, progress=False)
    assert report.failed == {} and len(report.converted) == 6

    ds = RecapDataset(tmp_path / "ds")
    eps = {e.episode_id: e for e in ds}
    assert set(eps) == {"rosbags_mcap", "rosbags_sqlite", "rosbags_sqlite_v8", "mcap_lib", "teleop", "rec-ep"}
    ep = eps["rosbags_mcap"]
    assert ep.num_steps == 20 and ep.outcome == "success" and ep.source == "rollout"
    assert ep.task == "transfer the cube"
    np.testing.assert_allclose(ep.timestamps, np.arange(20) * 0.02)
    np.testing.assert_allclose(ep.qpos[7, :6], 0.007 + 0.1 * np.arange(6))  # left arm, unprefixed names
    np.testing.assert_allclose(ep.qpos[7, 7:13], 0.507 + 0.1 * np.arange(6))  # right arm
    np.testing.assert_allclose(ep.qpos[:4, 6], [0, 1, 0, 1], atol=1e-9)  # raw gripper normalised
    np.testing.assert_allclose(ep.executed_action[:, 0], 0.01 * np.arange(20))
    assert np.isfinite(ep.proposed_action[0]).all() and ep.proposed_action[2, 0] == 2.5
    assert ep.intervention.tolist() == [5 <= k < 9 for k in range(20)]
    assert ep.images["cam_high"].shape == (20, 24, 32, 3) and ep.images["cam_high"][3, 0, 0, 0] == 30
    # JPEG (lossy) from CompressedImage
    assert abs(int(eps["rosbags_sqlite"].images["cam_high"][3, 5, 5, 0]) - 30) <= 3
    assert eps["mcap_lib"].outcome == "failure"
    teleop = eps["teleop"]
    assert teleop.source == "demo" and np.isnan(teleop.proposed_action).all() and not teleop.intervention.any()
    np.testing.assert_allclose(teleop.executed_action, teleop.qpos)  # leader arms mirror the followers here
    rec = eps["rec-ep"]
    assert rec.outcome == "failure" and rec.num_steps == 20  # outcome from the recorder's episode.json
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert len(manifest["sources"]) == 6 and manifest["config"]["extra"]["converter_hash"] == CFG.hash()


def test_incremental_build_appends_only_new_bags(tmp_path):
    a = write_rosbags(tmp_path / "a", spec())
    assert build_dataset([a], tmp_path / "ds", CFG, progress=False).converted
    b = write_rosbags(tmp_path / "b", spec(outcome_event=2))
    report = build_dataset([a, b], tmp_path / "ds", CFG, progress=False)
    assert report.skipped == [str(a.resolve())] and report.converted == [str(b.resolve())]
    assert len(RecapDataset(tmp_path / "ds")) == 2



def test_the_instruction_an_episode_was_started_with_is_kept_for_the_export(tmp_path):
    bag = write_rosbags(tmp_path / "a", spec(task="put the cup under the spout"))
    build_dataset([bag], tmp_path / "ds", CFG, progress=False)
    assert RecapDataset(tmp_path / "ds")[0].metadata["prompt"] == "put the cup under the spout"


BAD = {
    "no_outcome": (spec(outcome_event=None, task=""), "has no outcome"),
    "joint_names": (spec(follower_names=["waist", "shoulder", "elbow", "forearm", "wrist", "rot", "grip", "a", "b"]),
                    "/follower_left/joint_states"),
    "no_camera": (spec(cameras=("cam_low",)), "/cam_high/image_raw"),
}


def test_bad_bags_are_named_and_the_batch_still_converts(tmp_path, capsys):
    good = write_rosbags(tmp_path / "good", spec())
    bad = {name: write_rosbags(tmp_path / name, spec) for name, (spec, _) in BAD.items()}
    # a complete MCAP bag cut short: rosbags fails, the complete chunks are still used
    trunc = write_rosbags(tmp_path / "truncated", spec(steps=200, hw=(96, 128)))
    mcap = next(trunc.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    write_sidecar(trunc, episode_id="truncated", task="pour", outcome="success")  # its end event was cut off
    # no metadata.yaml at all
    nometa = write_rosbags(tmp_path / "nometa", spec())
    (nometa / "metadata.yaml").unlink()
    # warnings only: zero stamps, backwards stamps, an unknown message type
    zero = write_rosbags(tmp_path / "zero", spec(zero_stamps=("/follower_right/joint_states",)))
    back = write_rosbags(tmp_path / "back", spec(backwards_stamps=("/follower_left/joint_states",)))
    unknown = write_rosbags(tmp_path / "unknown", spec(unknown_type_topic=True))
    missing = tmp_path / "does_not_exist"
    empty_dir = tmp_path / "garbage"
    empty_dir.mkdir()
    (empty_dir / "garbage.mcap").write_bytes(b"not an mcap file at all")

    bags = [good, *bad.values(), trunc, nometa, zero, back, unknown, missing, empty_dir]
    report = build_dataset(bags, tmp_path / "ds", CFG, progress=False)
    failed = {Path(k).name: v for k, v in report.failed.items()}
    for name, (_spec, needle) in BAD.items():
        assert needle in failed[name] and str(bad[name]) in failed[name]
    assert "no such bag" in failed["does_not_exist"]
    assert "garbage" in failed["garbage"]
    converted = {Path(c).name for c in report.converted}
    assert converted == {"good", "truncated", "nometa", "zero", "back", "unknown"}
    warns = {Path(k).name: " | ".join(v) for k, v in report.warnings.items()}
    assert "truncated or corrupt" in warns["truncated"] and str(trunc) in warns["truncated"]
    assert "no metadata.yaml" in warns["nometa"]
    assert "/follower_right/joint_states: 20 of 20 header stamps are zero" in warns["zero"]
    assert "/follower_left/joint_states: header stamps go backwards" in warns["back"]
    assert "/vendor/blob: unknown message type vendor_msgs/msg/Blob" in warns["unknown"]
    ds = RecapDataset(tmp_path / "ds")
    trunc_ep = ds.episode("truncated")
    assert 0 < trunc_ep.num_steps < 200
    # the missing-outcome episode converts when the operator says what to assume
    relaxed = ConverterConfig(cameras=("cam_high",), image_size=(24, 32), missing_outcome="abort")
    r2 = build_dataset([bad["no_outcome"]], tmp_path / "ds2", relaxed, task="wipe", progress=False)
    assert r2.converted and RecapDataset(tmp_path / "ds2")[0].outcome == "abort"


def test_crashed_recorder_episode_converts_with_include_incomplete(tmp_path):
    partial = recorder_bag(tmp_path / "rec", spec(steps=30), crash=True)
    assert not (partial / "metadata.yaml").exists()
    assert find_bags([tmp_path / "rec"]) == []
    found = find_bags([tmp_path / "rec"], include_incomplete=True)
    assert found == [partial]
    report = build_dataset(found, tmp_path / "ds", ConverterConfig(cameras=("cam_high",), image_size=(24, 32),
                                                                  missing_outcome="abort"), progress=False)
    assert report.converted, report.failed
    ep = RecapDataset(tmp_path / "ds")[0]
    assert ep.metadata["complete"] is False and ep.num_steps == 30


def test_cli_build_reports_and_exits_nonzero_on_failure(tmp_path, capsys):
    good = write_rosbags(tmp_path / "bags" / "good", spec())
    write_rosbags(tmp_path / "bags" / "no_cam", spec(cameras=()))
    code = recap_main(["dataset", "build", str(tmp_path / "bags"), "--out", str(tmp_path / "ds"),
                       "--cameras", "cam_high", "--image-size", "24", "32"])
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out.strip().splitlines()[-1]) == {"converted": 1, "skipped_already_in_dataset": 0, "failed": 1,
                                                         "stale_steps": {}, "skipped_messages": {}}
    assert "no_cam" in err and "/cam_high/image_raw" in err
    assert RecapDataset(tmp_path / "ds")[0].episode_id == good.name


def test_steps_with_stale_images_are_dropped_or_flagged(tmp_path):
    bag = write_rosbags(tmp_path / "stall", spec(steps=40, camera_gap=(10, 25)))
    # frames stop after step 9: with a 0.1 s tolerance steps 15..24 (age > 0.1 s) are stale
    dropped = build_dataset([bag], tmp_path / "drop", CFG, progress=False)
    assert dropped.converted and any("10 of 40 steps have a stale observation" in w for w in dropped.warnings[str(bag.resolve())])
    ep = RecapDataset(tmp_path / "drop")[0]
    assert ep.num_steps == 30 and ep.metadata["stale_steps"] == 10
    kept_steps = np.round(ep.timestamps / 0.02).astype(int).tolist()
    assert kept_steps == [*range(15), *range(25, 40)]
    # the frame of step 14 is the held frame of step 9 (within tolerance), step 25 its own again
    assert ep.images["cam_high"][14, 0, 0, 0] == 90 and ep.images["cam_high"][15, 0, 0, 0] == 250
    flag_cfg = ConverterConfig(cameras=("cam_high",), image_size=(24, 32), stale_policy="flag")
    build_dataset([bag], tmp_path / "flag", flag_cfg, progress=False)
    flagged = RecapDataset(tmp_path / "flag")[0]
    assert flagged.num_steps == 40 and flagged.metadata["stale_steps"] == 10


def test_recorder_teleop_bag_with_an_empty_executed_topic_uses_the_leader_arms(tmp_path):
    bag = recorder_bag(tmp_path / "rec", spec(executed=False, policy=False, intervention_steps=None))
    report = build_dataset([bag], tmp_path / "ds", CFG, progress=False)
    assert report.converted, report.failed
    assert any("using the leader arms" in w for w in report.warnings[str(bag.resolve())])
    ep = RecapDataset(tmp_path / "ds")[0]
    assert ep.source == "demo" and ep.num_steps == 20
    np.testing.assert_allclose(ep.executed_action, ep.qpos)


def test_a_command_gap_holds_the_last_command_without_dropping_steps(tmp_path):
    bag = write_rosbags(tmp_path / "cmdgap", spec(steps=30, command_gap=(10, 20)))
    build_dataset([bag], tmp_path / "ds", CFG, progress=False)
    ep = RecapDataset(tmp_path / "ds")[0]
    assert ep.num_steps == 30 and ep.metadata["stale_steps"] == 0
    np.testing.assert_allclose(ep.executed_action[8:22, 0], 0.01 * np.array([8, 9] + [9] * 10 + [20, 21]))
