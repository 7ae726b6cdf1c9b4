"""Recorder logic without ROS: lifecycle rules, ENOSPC, drop accounting, stamps, config, salvage."""
from __future__ import annotations

import errno
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from recap_recorder.bag_writer import BAG_VERSION
from recap_recorder.config import RecorderConfig, TopicSpec
from recap_recorder.drops import DropAccounting
from recap_recorder.lifecycle import INCOMPLETE, EpisodeRecorder
from recap_recorder.msg_types import recap_typestore
from recap_recorder.recovery import recover_episode
from recap_recorder.stamps import header_stamp_ns

TS = recap_typestore()
TOPICS = (TopicSpec("/executed_command", "sensor_msgs/msg/JointState", "reliable", 50.0),
          TopicSpec("/intervention_state", "recap_msgs/msg/InterventionState", "latched"))


def joint_state(i: int) -> bytes:
    t = TS.types
    msg = t["sensor_msgs/msg/JointState"](
        header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=5, nanosec=i * 20_000_000), frame_id=""),
        name=["a"], position=np.array([float(i)]), velocity=np.zeros(0), effort=np.zeros(0))
    return bytes(TS.serialize_cdr(msg, "sensor_msgs/msg/JointState"))


def intervention(human: bool, sec: int) -> bytes:
    t = TS.types
    msg = t["recap_msgs/msg/InterventionState"](
        header=t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=0), frame_id=""),
        human_in_control=human, source=1, detail="", since=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=0),
        episode_id="", intervention_count=0)
    return bytes(TS.serialize_cdr(msg, "recap_msgs/msg/InterventionState"))


def recorder(tmp_path: Path, **kw) -> EpisodeRecorder:
    cfg = RecorderConfig(out_dir=str(tmp_path / "out"), topics=TOPICS, min_free_bytes=0, **kw.pop("cfg", {}))
    return EpisodeRecorder(cfg, log=lambda m: None, **kw)


def test_header_stamp_read_from_cdr_without_deserializing():
    assert header_stamp_ns(joint_state(3)) == 5 * 10**9 + 60_000_000
    assert header_stamp_ns(b"\x00\x01") is None


def test_drop_accounting_counts_stamp_gaps_and_backwards_stamps():
    acc = DropAccounting({"/a": 50.0})
    for k in [0, 1, 2, 5, 6, 4]:  # periods 3 and 4 missing, then one stamp going backwards
        acc.on_stamp("/a", k * 20_000_000)
    st = acc.topics["/a"]
    assert st.stamp_gaps_missing == 2 and st.non_monotonic == 1 and st.expected() == 7
    assert acc.total_detected() == 2


def test_auto_rate_learns_the_period_from_the_stamps():
    acc = DropAccounting({"/cam": 0.0, "/events": None})
    stamps = [k * 100_000_000 for k in range(20)] + [k * 100_000_000 for k in range(23, 30)]  # 10 Hz, 3 missing
    for ns in stamps:
        acc.on_stamp("/cam", ns)
        acc.on_stamp("/events", ns)
    cam = acc.topics["/cam"].as_dict()
    assert cam["measured_rate_hz"] == 10.0 and cam["stamp_gaps_missing"] == 3 and cam["expected"] == 30
    assert acc.topics["/events"].as_dict()["expected"] is None and acc.topics["/events"].stamp_gaps_missing == 0


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="absolute"):
        TopicSpec("cam", "sensor_msgs/msg/Image")
    with pytest.raises(ValueError, match="duplicate"):
        RecorderConfig(out_dir="x", topics=(TOPICS[0], TOPICS[0]))
    with pytest.raises(ValueError, match="flush_interval_s"):
        RecorderConfig(out_dir="x", topics=TOPICS, flush_interval_s=0)


def test_lifecycle_rules(tmp_path):
    rec = recorder(tmp_path)
    assert not rec.end("success").accepted  # nothing recording
    assert not rec.start("").accepted  # no task
    assert not rec.start("t", episode_id="../evil").accepted
    assert rec.start("t", episode_id="e1").accepted
    assert "still recording" in rec.start("t").message
    assert not rec.end("great").accepted  # unknown outcome
    assert not rec.end("success", episode_id="other").accepted
    assert rec.end("failure").accepted
    assert not rec.start("t", episode_id="e1").accepted  # ids are unique
    assert not rec.relabel("nope", "success").accepted
    assert rec.relabel("e1", "success").accepted


def test_free_disk_threshold_refuses_start(tmp_path):
    rec = recorder(tmp_path, free_bytes_fn=lambda p: 10**6, cfg={})
    rec.config = RecorderConfig(out_dir=rec.config.out_dir, topics=TOPICS, min_free_bytes=10**9)
    res = rec.start("t")
    assert not res.accepted and "free disk 0.00 GB below 1.00 GB" in res.message


def test_latched_state_and_interventions_reach_the_episode(tmp_path):
    rec = recorder(tmp_path)
    rec.submit("/intervention_state", intervention(False, 1), 1)  # before the episode: kept
    rec.submit("/executed_command", joint_state(0), 1)  # before the episode: not recorded
    rec.start("t", episode_id="e1")
    rec.submit("/intervention_state", intervention(True, 10), 2)
    rec.submit("/intervention_state", intervention(False, 12), 3)
    rec.submit("/intervention_state", intervention(True, 20), 4)  # still open at the end
    res = rec.end("success", now_ns=21 * 10**9)
    meta = json.loads((Path(res.bag_path) / "episode.json").read_text())
    assert meta["topic_counts"] == {"/executed_command": 0, "/intervention_state": 4}
    assert meta["intervention_count"] == 2 and meta["intervention_duration_s"] == pytest.approx(3.0)


class FailingWriter(Writer):
    """Injects ENOSPC from the storage after `ok` messages (the writer seam; no tmpfs needed)."""

    def __init__(self, path: Path, ok: int) -> None:
        super().__init__(path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        self.ok = ok

    def write(self, connection, timestamp, data):
        if self.ok == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.ok -= 1
        super().write(connection, timestamp, data)


def test_disk_full_closes_what_was_written_and_keeps_running(tmp_path):
    rec = recorder(tmp_path, writer_factory=lambda p: FailingWriter(p, ok=5))
    rec.start("t", episode_id="full")
    for i in range(20):
        rec.submit("/executed_command", joint_state(i), i + 1)
    res = rec.end("success")
    assert res.accepted and "incomplete: disk full" in res.message
    meta = json.loads((Path(res.bag_path) / "episode.json").read_text())
    assert meta["complete"] is False and meta["outcome"] == "success"
    with Reader(res.bag_path) as reader:  # a valid bag holding what fitted
        assert reader.message_count == 5
    rec._writer_factory = None  # the disk has room again: the next episode records normally
    assert rec.start("t", episode_id="next").accepted
    rec.submit("/executed_command", joint_state(0), 1)
    assert json.loads((Path(rec.end("abort").bag_path) / "episode.json").read_text())["complete"]


def test_truncated_partial_bag_is_salvaged(tmp_path):
    rec = recorder(tmp_path)
    rec.start("t", episode_id="cut")
    for i in range(50):
        rec.submit("/executed_command", joint_state(i), i + 1)
    session = rec.session
    session.finish()  # closes the bag normally ...
    partial = Path(rec.config.out_dir) / INCOMPLETE / "cut"
    rec.session = None
    mcap = next(partial.glob("*.mcap"))
    (partial / "metadata.yaml").unlink()  # ... then make it look like a crash: no metadata,
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) * 2 // 3])  # and the tail (summary, maybe a chunk) cut off
    final, report = recover_episode(partial, Path(rec.config.out_dir))
    assert report.truncated and report.messages > 0
    with Reader(final) as reader:
        stamps = [struct.unpack_from("<iI", raw, 4) for _c, _t, raw in reader.messages()]
    assert stamps == [(5, i * 20_000_000) for i in range(len(stamps))]  # an intact prefix
    assert json.loads((final / "episode.json").read_text())["complete"] is False


def test_recap_recover_salvages_a_finished_episode_left_without_metadata(tmp_path):
    from recap_recorder.recovery import main as recover_main
    rec = recorder(tmp_path)
    rec.start("t", episode_id="unclosed")
    for i in range(40):
        rec.submit("/executed_command", joint_state(i), i + 1)
    bag = Path(rec.end("failure").bag_path)
    (bag / "metadata.yaml").unlink()  # as after ENOSPC while closing: chunks only, no summary
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[:-200])
    assert recover_main([str(tmp_path / "out")]) == 0
    with Reader(bag) as reader:
        assert reader.message_count == 40
    meta = json.loads((bag / "episode.json").read_text())
    assert meta["complete"] is False and meta["outcome"] == "failure"
    assert recover_main([str(tmp_path / "out")]) == 0  # idempotent: nothing left to recover


def test_queue_overflow_is_counted_never_blocks_and_is_logged(tmp_path):
    import threading
    gate = threading.Event()

    class SlowWriter(Writer):  # the disk stalls until the gate opens
        def write(self, connection, timestamp, data):
            gate.wait(30)
            super().write(connection, timestamp, data)

    logs = []
    rec = EpisodeRecorder(RecorderConfig(out_dir=str(tmp_path / "out"), topics=TOPICS, min_free_bytes=0, queue_size=5),
                          log=logs.append,
                          writer_factory=lambda p: SlowWriter(p, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP))
    rec.start("t", episode_id="slow")
    for i in range(50):  # returns at once although nothing can be written
        rec.submit("/executed_command", joint_state(i), i + 1)
    gate.set()
    meta = json.loads((Path(rec.end("success").bag_path) / "episode.json").read_text())
    d = meta["drops"]["/executed_command"]
    assert d["received"] == 50 and d["written"] + d["queue_dropped"] == 50 and d["queue_dropped"] >= 44
    assert meta["detected_drops"] == max(d["queue_dropped"], d["stamp_gaps_missing"])  # one loss counted once
    assert any("/executed_command: written" in line and "queue full" in line for line in logs)


def test_queue_is_bounded_in_bytes_too(tmp_path):
    import threading
    gate = threading.Event()

    class SlowWriter(Writer):
        def write(self, connection, timestamp, data):
            gate.wait(30)
            super().write(connection, timestamp, data)

    one = len(joint_state(0))
    rec = EpisodeRecorder(RecorderConfig(out_dir=str(tmp_path / "out"), topics=TOPICS, min_free_bytes=0,
                                         queue_size=1000, queue_max_bytes=3 * one),
                          log=lambda m: None,
                          writer_factory=lambda p: SlowWriter(p, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP))
    rec.start("t", episode_id="bytes")
    for i in range(20):
        rec.submit("/executed_command", joint_state(i), i + 1)
    gate.set()
    d = json.loads((Path(rec.end("success").bag_path) / "episode.json").read_text())["drops"]["/executed_command"]
    assert d["written"] <= 4 and d["written"] + d["queue_dropped"] == 20  # 3 queued + 1 in the writer's hands
