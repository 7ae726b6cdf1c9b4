"""The recorder as a managed node over real DDS: it records what the robot description names (with
each camera's own message type) and names the description in the metadata, refuses episodes until
activated, keeps the episode a deactivation interrupts, and reports its state on /diagnostics."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from mcap_ros2.reader import read_ros2_messages
from recorder.recorder_helpers import call_service, count_partial_messages
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import CompressedImage, JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from recap_core.robot_description import load_robot
from recap_lifecycle.managed_node import from_message
from recap_lifecycle.transitions import TransitionError, drive_transitions
from recap_msgs.msg import EpisodeEvent
from recap_msgs.srv import EndEpisode, StartEpisode
from recap_recorder.config import stack_topics
from ros_harness import wait_until

pytestmark = pytest.mark.integration

NODE = "episode_recorder"
MSG_CLASS = {"sensor_msgs/msg/JointState": JointState, "sensor_msgs/msg/CompressedImage": CompressedImage,
             "trajectory_msgs/msg/JointTrajectory": JointTrajectory}


def start_recorder(start_process, out: Path, robot: str, *extra: str):
    return start_process("recap_recorder.recorder_node", "--ros-args", "-p", f"bag_dir:={out}",
                         "-p", f"robot:={robot}", "-p", "sim:=false", "-p", "flush_interval_s:=0.2",
                         "-p", "min_free_disk_gb:=0.0", *extra)


def sample(msg_class: type, i: int):
    """A stamped message of each type the descriptions in these tests use."""
    if msg_class is CompressedImage:
        msg = CompressedImage(format="jpeg", data=bytes([0xFF, 0xD8, i % 256, 0xFF, 0xD9]))
    elif msg_class is JointTrajectory:
        msg = JointTrajectory(joint_names=["joint1"], points=[JointTrajectoryPoint(positions=[0.1 * i])])
    else:
        msg = JointState(name=["joint1"], position=[0.1 * i])
    msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i, 0
    return msg


def publish_until_recorded(ros_node, partial: Path, topics: dict[str, type]) -> None:
    """Publish on every topic until the recorder has flushed at least one message of each (the
    sensor topics are best effort, so a single message may be lost on a loaded machine)."""
    pubs = {t: ros_node.node.create_publisher(cls, t, 10) for t, cls in topics.items()}
    for topic in topics:
        ros_node.wait_for_subscribers(topic, timeout=30.0)
    sent = [0]

    def all_recorded() -> bool:
        counts = count_partial_messages(partial)
        missing = [t for t in topics if not counts.get(t)]
        for topic in missing:
            pubs[topic].publish(sample(topics[topic], sent[0]))
        sent[0] += 1
        return not missing

    wait_until(all_recorded, 60.0, f"a message of each of {sorted(topics)} in the bag", poll=0.1)


def test_single_arm_records_exactly_its_description(ros_node, start_process, tmp_path):
    robot = load_robot("single_arm_6dof")
    out = tmp_path / "episodes"
    start_recorder(start_process, out, "single_arm_6dof")
    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="pick", episode_id="arm-1"), 60.0)
    assert started.accepted, started.message
    described = {robot.follower_arms[0].joint_states: "sensor_msgs/msg/JointState",
                 robot.leader_arms[0].joint_states: "sensor_msgs/msg/JointState",
                 **{cam.topic: cam.msgtype for cam in robot.cameras},
                 "/arm_controller/joint_trajectory": "trajectory_msgs/msg/JointTrajectory"}
    assert set(described.values()) == set(MSG_CLASS)  # the cameras are CompressedImage
    publish_until_recorded(ros_node, out / ".incomplete" / "arm-1", {t: MSG_CLASS[m] for t, m in described.items()})
    ended = call_service(ros_node, EndEpisode, "/recorder/end_episode",
                         EndEpisode.Request(outcome=EndEpisode.Request.SUCCESS), 60.0)
    assert ended.accepted, ended.message
    bag = Path(ended.bag_path)

    with Reader(bag) as reader:
        recorded = {c.topic: c.msgtype for c in reader.connections}
    assert recorded == {**described, **{t.name: t.msgtype for t in stack_topics(sim=False)}}
    frames = [m.ros_msg for m in read_ros2_messages(str(next(bag.glob("*.mcap"))))
              if m.channel.topic == robot.cameras[0].topic]
    assert frames and frames[0].format == "jpeg" and bytes(frames[0].data[:2]) == b"\xff\xd8"

    meta = json.loads((bag / "episode.json").read_text())
    assert (meta["robot_description"], meta["robot_description_hash"]) == (robot.name, robot.description_hash())
    assert meta["robot_id"] == "single_arm_6dof" and meta["episode_id"] == "arm-1"
    custom = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]["custom_data"]
    assert custom["recap.robot_description_hash"] == robot.description_hash()


def test_a_description_files_compressed_camera_is_recorded_with_its_type(ros_node, start_process, tmp_path):
    doc = load_robot("aloha_sim").to_dict()
    doc["name"] = "overhead_aloha"
    doc["cameras"] = [{"name": "overhead", "topic": "/overhead/jpeg", "encoding": "compressed", "rate_hz": 15.0,
                       "size": [48, 64]}]
    path = tmp_path / "overhead_aloha.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp_path / "episodes"
    start_recorder(start_process, out, str(path))
    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="look", episode_id="cam-1"), 60.0)
    assert started.accepted, started.message
    publish_until_recorded(ros_node, out / ".incomplete" / "cam-1", {"/overhead/jpeg": CompressedImage})
    ended = call_service(ros_node, EndEpisode, "/recorder/end_episode",
                         EndEpisode.Request(outcome=EndEpisode.Request.FAILURE), 60.0)
    assert ended.accepted, ended.message
    bag = Path(ended.bag_path)
    with Reader(bag) as reader:
        recorded = {c.topic: c.msgtype for c in reader.connections}
    assert recorded["/overhead/jpeg"] == "sensor_msgs/msg/CompressedImage"
    assert not [t for t in recorded if t.startswith("/cam_")]  # no topic made up from a camera name
    meta = json.loads((bag / "episode.json").read_text())
    assert meta["robot_description"] == "overhead_aloha"
    assert meta["robot_description_hash"] == load_robot(path).description_hash()
    assert meta["drops"]["/overhead/jpeg"]["rate_hz"] == 15.0  # the description's rate is the expectation


def recorder_status(msg: DiagnosticArray, what: str):
    for status in msg.status:
        if status.name == f"{NODE}: {what}":
            return from_message(status)
    return None


def recording_value(msg: DiagnosticArray, key: str) -> str | None:
    status = recorder_status(msg, "recording")
    return status.values.get(key) if status else None


def test_lifecycle_refuses_until_active_and_deactivation_keeps_the_episode(ros_node, start_process, tmp_path,
                                                                             domain_id):
    out = tmp_path / "episodes"
    diagnostics = ros_node.collect(DiagnosticArray, "/diagnostics", 50)
    events = ros_node.collect(EpisodeEvent, "/episode_events", 100)
    start_recorder(start_process, out, "aloha_sim", "-p", "autostart:=false")
    diagnostics.wait_for(1, timeout=30, predicate=lambda m: recorder_status(m, "lifecycle") is not None)
    drive_transitions([NODE], ("configure",), domain_id=domain_id)
    refused = call_service(ros_node, StartEpisode, "/recorder/start_episode", StartEpisode.Request(task_prompt="t"))
    assert not refused.accepted and "not active" in refused.message
    assert list((out / ".incomplete").iterdir()) == []

    drive_transitions([NODE], ("activate",), domain_id=domain_id)
    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="fold", episode_id="lc-1"))
    assert started.accepted, started.message
    publish_until_recorded(ros_node, out / ".incomplete" / "lc-1", {"/executed_command": JointState})
    busy = diagnostics.wait_for(1, timeout=10, predicate=lambda m: recording_value(m, "episode_id") == "lc-1")[-1]
    values = recorder_status(busy, "recording").values
    assert set(values) == {"recording", "episode_id", "episode_elapsed_s", "episodes_recorded", "drops", "bag_dir"}
    assert values["recording"] == "true" and values["episodes_recorded"] == "0" and values["bag_dir"] == str(out)
    assert float(values["episode_elapsed_s"]) >= 0 and int(values["drops"]) >= 0
    disk = recorder_status(busy, "disk")
    assert disk is not None and float(disk.values["free_gb"]) > 0 and disk.values["min_free_gb"] == "0"

    drive_transitions([NODE], ("deactivate",), domain_id=domain_id)
    bag = out / "lc-1"  # finished and moved into place, not left half-written
    meta = json.loads((bag / "episode.json").read_text())
    assert meta["outcome"] == "abort" and meta["complete"] and "deactivated" in meta["note"]
    assert meta["topic_counts"]["/executed_command"] >= 1
    events.wait_for(1, timeout=10, predicate=lambda e: e.kind == EpisodeEvent.ABORT and e.episode_id == "lc-1")
    again = call_service(ros_node, StartEpisode, "/recorder/start_episode", StartEpisode.Request(task_prompt="t"))
    assert not again.accepted and "not active" in again.message
    idle = diagnostics.wait_for(1, timeout=10, predicate=lambda m: recording_value(m, "episodes_recorded") == "1")[-1]
    assert recorder_status(idle, "recording").values["recording"] == "false"


def test_a_bag_dir_that_cannot_be_made_fails_configure_with_the_reason(start_process, tmp_path, domain_id):
    (tmp_path / "a_file").write_text("")
    start_recorder(start_process, tmp_path / "a_file" / "bags", "aloha_sim", "-p", "autostart:=false")
    with pytest.raises(TransitionError, match=r"episode_recorder failed to configure: bag_dir .*a_file/bags "
                                              r"cannot be created"):
        drive_transitions([NODE], ("configure",), domain_id=domain_id)


def test_sigint_while_recording_keeps_the_episode_as_abort(ros_node, start_process, tmp_path):
    out = tmp_path / "episodes"
    proc = start_recorder(start_process, out, "aloha_sim")
    started = call_service(ros_node, StartEpisode, "/recorder/start_episode",
                           StartEpisode.Request(task_prompt="stack", episode_id="int-1"), 60.0)
    assert started.accepted, started.message
    assert proc.stop() == 0  # SIGINT, as ctrl-C and ros2 launch send it
    meta = json.loads((out / "int-1" / "episode.json").read_text())
    assert meta["outcome"] == "abort" and meta["complete"] and "shut down" in meta["note"]
    with Reader(out / "int-1") as reader:
        events = [c for c in reader.connections if c.topic == "/episode_events"]
        assert len(list(reader.messages(connections=events))) == 2  # START and the ABORT
