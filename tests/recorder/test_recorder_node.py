"""The recorder node over real DDS: services, raw recording, metadata, relabel, SIGKILL recovery.

Bags are checked with independent readers (mcap + mcap-ros2-support, rosbags).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from recorder.recorder_helpers import call_service, count_partial_messages, make_image
from mcap_ros2.reader import read_ros2_messages
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader

from recap_msgs.msg import ActionChunk, EpisodeEvent, InterventionState
from recap_msgs.srv import EndEpisode, RelabelEpisode, StartEpisode
from ros_harness import wait_until
from sensor_msgs.msg import Image, JointState

pytestmark = pytest.mark.integration

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


def start_recorder(start_process, out: Path, *extra: str):
    return start_process("recap_recorder.recorder_node", "--ros-args", "-p", f"bag_dir:={out}",
                         "-p", "robot:=aloha_sim", "-p", "sim:=false", "-p", "flush_interval_s:=0.2",
                         "-p", "min_free_disk_gb:=0.0", *extra)


def publish_episode(ros_node, partial: Path, n_cmd: int = 30, n_img: int = 10):
    node = ros_node.node
    img_pub = node.create_publisher(Image, "/cam_high/image_raw", 50)
    cmd_pub = node.create_publisher(JointState, "/executed_command", 50)
    chunk_pub = node.create_publisher(ActionChunk, "/policy/action_chunk", 10)
    iv_pub = node.create_publisher(InterventionState, "/intervention_state", LATCHED)
    for topic in ("/cam_high/image_raw", "/executed_command", "/policy/action_chunk", "/intervention_state"):
        ros_node.wait_for_subscribers(topic, timeout=30.0)
    for i in range(n_img):
        img_pub.publish(make_image(i))
    for i in range(n_cmd):
        cmd = JointState(name=[f"j{k}" for k in range(14)], position=[float(i)] * 14)
        cmd.header.stamp.sec, cmd.header.stamp.nanosec = 100, i * 20_000_000
        cmd_pub.publish(cmd)
    for i in range(3):
        chunk = ActionChunk(chunk_id=i, horizon=2, action_dim=1, joint_names=["a"], actions=[0.5, 0.25],
                            policy_id="recap/iter1@abc")
        chunk.header.stamp.sec = 100
        chunk_pub.publish(chunk)
    for k, (human, sec) in enumerate(((True, 101), (False, 102))):
        iv = InterventionState(human_in_control=human, source=InterventionState.SOURCE_PEDAL)
        iv.header.stamp.sec = sec
        iv_pub.publish(iv)
        # a depth-1 latched publisher only guarantees its latest sample: let each one land first
        wait_until(lambda k=k: count_partial_messages(partial).get("/intervention_state", 0) == k + 1, 30.0,
                   f"intervention state {k + 1} in the bag")
    return n_cmd, n_img


def test_episode_recorded_labelled_and_relabelled(ros_node, start_process, tmp_path):
    out = tmp_path / "episodes"
    start_recorder(start_process, out)
    events = ros_node.collect(EpisodeEvent, "/episode_events", 100)

    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="transfer the cube", episode_id="ep-1"))
    assert started.accepted, started.message
    partial = out / ".incomplete" / "ep-1"
    n_cmd, n_img = publish_episode(ros_node, partial)
    wait_until(lambda: count_partial_messages(partial).get("/executed_command", 0) == n_cmd
               and count_partial_messages(partial).get("/intervention_state", 0) == 2, 30.0,
               "the recorder to flush every published command")

    ended = call_service(ros_node, EndEpisode, "/recorder/end_episode",
                         EndEpisode.Request(outcome=EndEpisode.Request.SUCCESS, note="clean run"))
    assert ended.accepted, ended.message
    bag = Path(ended.bag_path)
    assert bag == out / "ep-1" and not partial.exists()

    # independent reader: every message decodes, custom types included
    by_topic: dict[str, list] = {}
    for m in read_ros2_messages(str(next(bag.glob("*.mcap")))):
        by_topic.setdefault(m.channel.topic, []).append(m.ros_msg)
    assert len(by_topic["/executed_command"]) == n_cmd
    assert [c.policy_id for c in by_topic["/policy/action_chunk"]] == ["recap/iter1@abc"] * 3
    assert 1 <= len(by_topic["/cam_high/image_raw"]) <= n_img
    first = by_topic["/cam_high/image_raw"][0]
    assert (first.height, first.width, first.encoding) == (48, 64, "rgb8")
    assert [e.kind for e in by_topic["/episode_events"]] == [EpisodeEvent.START, EpisodeEvent.SUCCESS]

    meta = json.loads((bag / "episode.json").read_text())
    assert meta["outcome"] == "success" and meta["task"] == "transfer the cube" and meta["complete"]
    assert meta["intervention_count"] == 1 and meta["intervention_duration_s"] == pytest.approx(1.0)
    assert meta["checkpoint_id"] == "recap/iter1@abc"
    assert meta["topic_counts"]["/executed_command"] == n_cmd
    assert meta["drops"]["/executed_command"]["stamp_gaps_missing"] == 0
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 9 and info["storage_identifier"] == "mcap"
    assert info["custom_data"]["recap.outcome"] == "success"
    with Reader(bag) as reader:
        assert reader.message_count == sum(len(v) for v in by_topic.values())

    relabel = call_service(ros_node, RelabelEpisode, "/recorder/relabel_episode",
                           RelabelEpisode.Request(episode_id="ep-1", outcome=RelabelEpisode.Request.FAILURE,
                                                  note="cube slipped after the end"))
    assert relabel.accepted, relabel.message
    meta = json.loads((bag / "episode.json").read_text())
    assert meta["outcome"] == "failure" and meta["relabel_history"][0]["from"] == "success"
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["custom_data"]["recap.outcome"] == "failure"
    events.wait_for(1, timeout=10.0, predicate=lambda e: e.kind == EpisodeEvent.RELABEL and e.episode_id == "ep-1")


def test_recorder_below_the_free_disk_threshold_fails_to_configure(start_process, tmp_path):
    out = tmp_path / "episodes"
    proc = start_recorder(start_process, out, "-p", "min_free_disk_gb:=1000000.0")
    assert proc.wait(60.0) == 1
    assert "episode_recorder failed to configure: free disk" in proc.log() and "below min_free_disk_gb" in proc.log()
    assert list(out.iterdir()) == []  # no episode directory was started


def test_sigkill_mid_episode_is_salvaged_by_recap_recover(ros_node, start_process, tmp_path):
    out = tmp_path / "episodes"
    proc = start_recorder(start_process, out)
    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="pour", episode_id="crash-1"))
    assert started.accepted
    partial = out / ".incomplete" / "crash-1"
    n_cmd, _ = publish_episode(ros_node, partial)
    wait_until(lambda: count_partial_messages(partial).get("/executed_command", 0) == n_cmd, 30.0,
               "the commands to be flushed")
    proc.proc.send_signal(signal.SIGKILL)
    proc.wait(10.0)
    assert not (partial / "metadata.yaml").exists()  # really a crash: no summary was written

    run = subprocess.run([sys.executable, "-m", "recap_recorder.recovery", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    bag = out / "crash-1"
    assert "salvaged" in run.stdout and not partial.exists()
    meta = json.loads((bag / "episode.json").read_text())
    assert meta["complete"] is False and meta["outcome"] is None and meta["task"] == "pour"
    with Reader(bag) as reader:
        cmds = [c for c in reader.connections if c.topic == "/executed_command"]
        got = list(reader.messages(connections=cmds))
    assert len(got) == n_cmd
    decoded = [m.ros_msg for m in read_ros2_messages(str(next(bag.glob("*.mcap"))))
               if m.channel.topic == "/executed_command"]
    np.testing.assert_array_equal([d.position[0] for d in decoded], np.arange(n_cmd, dtype=float))
