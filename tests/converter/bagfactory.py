"""Realistic ALOHA bags written by independent writers (rosbags directly; mcap + mcap-ros2-support).

Layout as a real ALOHA rig records it (`ros2 bag record`): per-arm follower/leader JointState
with unprefixed names + finger joints and raw gripper, cameras as Image or CompressedImage,
optionally our policy/intervention/event topics.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from recap_recorder.msg_types import recap_typestore

TS = recap_typestore()
T = TS.types
ARM = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper", "left_finger", "right_finger"]
PREFIXED = [f"{s}_{j}" for s in ("left", "right") for j in ARM[:7]]
PERIOD_NS = 20_000_000
T0 = 1_700_000_000 * 10**9


@dataclass
class BagSpec:
    steps: int = 20
    cameras: tuple[str, ...] = ("cam_high",)
    compressed: bool = False
    hw: tuple[int, int] = (48, 64)
    executed: bool = True  # /executed_command; False = teleop bag (leader arms only)
    policy: bool = True
    intervention_steps: tuple[int, int] | None = (5, 9)  # human in control for steps [a, b)
    outcome_event: int | None = 1  # EpisodeEvent kind recorded at the end (None: no outcome)
    task: str = "transfer the cube"
    zero_stamps: tuple[str, ...] = ()
    backwards_stamps: tuple[str, ...] = ()
    follower_names: list[str] = field(default_factory=lambda: list(ARM))
    unknown_type_topic: bool = False
    camera_gap: tuple[int, int] | None = None  # no camera frames for steps [a, b) (a stalled driver)
    command_gap: tuple[int, int] | None = None  # no /executed_command for steps [a, b)
    command_step: float = 1.0  # /executed_command is command_step * k on every joint at step k
    executed_override: dict[int, float] = field(default_factory=dict)  # step -> left_waist command
    follower_override: dict[int, float] = field(default_factory=dict)  # step -> left_shoulder reading
    bad_proposals: dict[int, str] = field(default_factory=dict)  # step -> "seven_joints" | "nan"


def stamp(ns: int):
    return T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9)


def header(ns: int):
    return T["std_msgs/msg/Header"](stamp=stamp(ns), frame_id="")


def qpos_value(k: int, side: int, j: int) -> float:
    """Inside the ViperX joint limits for any k < 500."""
    return 0.001 * k + 0.1 * j + 0.5 * side


def frame(k: int, hw) -> np.ndarray:
    img = np.zeros((*hw, 3), np.uint8)
    img[..., 0] = (k * 10) % 256
    img[..., 1] = 100
    return img


def messages(spec: BagSpec):
    """Yield (topic, msgtype, log_ns, message) in time order."""
    js = "sensor_msgs/msg/JointState"
    if spec.outcome_event is not None or spec.task:
        yield "/episode_events", "recap_msgs/msg/EpisodeEvent", T0 - 1, T["recap_msgs/msg/EpisodeEvent"](
            header=header(T0 - 1), episode_id="", kind=0, new_outcome=0, task_prompt=spec.task, note="")
    for k in range(spec.steps):
        ns = T0 + k * PERIOD_NS
        for side, arm in enumerate(("left", "right")):
            for role in ("follower", "leader"):
                names = spec.follower_names if role == "follower" else ARM
                pos = np.array([qpos_value(k, side, j) for j in range(len(ARM))])
                pos[6] = 0.021 + 0.036 * (k % 2)  # raw gripper, alternately closed/open
                topic = f"/{role}_{arm}/joint_states"
                if topic == "/follower_left/joint_states" and k in spec.follower_override:
                    pos[1] = spec.follower_override[k]
                s = 0 if topic in spec.zero_stamps else ns
                if topic in spec.backwards_stamps and k == 3:
                    s = ns - 3 * PERIOD_NS
                yield topic, js, ns + 1000, T[js](header=header(s), name=names[:len(pos)], position=pos,
                                                   velocity=np.zeros(0), effort=np.zeros(0))
        for cam in spec.cameras:
            if spec.camera_gap and spec.camera_gap[0] <= k < spec.camera_gap[1]:
                continue
            img = frame(k, spec.hw)
            if spec.compressed:
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                yield f"/{cam}/image_raw/compressed", "sensor_msgs/msg/CompressedImage", ns + 2000, \
                    T["sensor_msgs/msg/CompressedImage"](header=header(ns), format="jpeg", data=buf.ravel())
            else:
                yield f"/{cam}/image_raw", "sensor_msgs/msg/Image", ns + 2000, T["sensor_msgs/msg/Image"](
                    header=header(ns), height=spec.hw[0], width=spec.hw[1], encoding="rgb8", is_bigendian=0,
                    step=spec.hw[1] * 3, data=img.ravel())
        if spec.executed and not (spec.command_gap and spec.command_gap[0] <= k < spec.command_gap[1]):
            command = np.full(14, spec.command_step * k)
            command[0] = spec.executed_override.get(k, command[0])
            yield "/executed_command", js, ns + 3000, T[js](header=header(ns), name=PREFIXED, position=command,
                                                            velocity=np.zeros(0), effort=np.zeros(0))
        if spec.policy and (k % 2 == 0 or k in spec.bad_proposals):
            names, proposal = PREFIXED, np.full(14, k + 0.5)
            if spec.bad_proposals.get(k) == "seven_joints":
                names, proposal = PREFIXED[:7], proposal[:7]
            elif spec.bad_proposals.get(k) == "nan":
                proposal[3] = np.nan
            yield "/policy/command", js, ns + 3000, T[js](header=header(ns), name=names, position=proposal,
                                                          velocity=np.zeros(0), effort=np.zeros(0))
        if spec.intervention_steps and k in spec.intervention_steps or (spec.intervention_steps and k == 0):
            human = spec.intervention_steps is not None and k == spec.intervention_steps[0]
            yield "/intervention_state", "recap_msgs/msg/InterventionState", ns + 4000, \
                T["recap_msgs/msg/InterventionState"](header=header(ns), human_in_control=human, source=1, detail="",
                                                      since=stamp(ns), episode_id="", intervention_count=int(human))
    if spec.unknown_type_topic:
        yield "/vendor/blob", "vendor_msgs/msg/Blob", T0, None
    if spec.outcome_event is not None:
        end = T0 + spec.steps * PERIOD_NS
        yield "/episode_events", "recap_msgs/msg/EpisodeEvent", end, T["recap_msgs/msg/EpisodeEvent"](
            header=header(end), episode_id="", kind=spec.outcome_event, new_outcome=0, task_prompt=spec.task, note="")


def write_rosbags(path: Path, spec: BagSpec, storage: str = "mcap", version: int = 9) -> Path:
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns = {}
    with Writer(path, version=version, storage_plugin=plugin) as w:
        for topic, msgtype, log_ns, msg in messages(spec):
            if topic not in conns:
                if msg is None:  # a type no reader knows: definition deliberately absent
                    conns[topic] = w.add_connection(topic, msgtype, msgdef="", rihs01="RIHS01_" + "0" * 64)
                    conns[topic] = conns[topic]
                else:
                    conns[topic] = w.add_connection(topic, msgtype, typestore=TS)
            data = b"\x00\x01\x00\x00\x07" if msg is None else TS.serialize_cdr(msg, msgtype)
            w.write(conns[topic], log_ns, data)
    return path


def _to_dict(msg):
    if hasattr(msg, "__dataclass_fields__"):
        return {k: _to_dict(getattr(msg, k)) for k in msg.__dataclass_fields__ if k != "__msgtype__"}
    if isinstance(msg, np.ndarray):
        return msg.tolist() if msg.dtype != np.uint8 else bytes(msg)
    if isinstance(msg, list):
        return [_to_dict(m) for m in msg]
    return msg


def write_mcap_ros2(path: Path, spec: BagSpec) -> Path:
    """A bare .mcap written with mcap + mcap-ros2-support (no metadata.yaml: a different writer)."""
    from mcap_ros2.writer import Writer as McapRos2Writer
    path.mkdir(parents=True)
    schemas = {}
    with open(path / f"{path.name}.mcap", "wb") as f:
        w = McapRos2Writer(f)
        for topic, msgtype, log_ns, msg in messages(spec):
            if msg is None:
                continue
            if msgtype not in schemas:
                schemas[msgtype] = w.register_msgdef(msgtype, TS.generate_msgdef(msgtype, ros_version=2)[0])
            w.write_message(topic, schemas[msgtype], _to_dict(msg), log_time=log_ns, publish_time=log_ns)
        w.finish()
    return path


def write_sidecar(bag: Path, **fields) -> None:
    (bag / "episode.json").write_text(json.dumps(fields))


# --- bags as `ros2 bag record` takes them from the real ALOHA drivers (robot description `aloha`) ---
REAL_CAMERA_TOPIC = "/{cam}/camera/color/image_rect_raw/compressed"  # realsense2_camera via image_transport
REAL_GRIPPER = {"follower": (-0.6213, 1.4910), "leader": (-0.0552, 0.8298)}  # ALOHA_*_GRIPPER (closed, open), rad


@dataclass
class RealDriverSpec:
    seconds: float = 1.0
    joint_rate_hz: float = 100.0
    jitter_s: float = 0.002  # uniform +- jitter of every joint-state stamp
    camera_rate_hz: float = 30.0
    cameras: tuple[str, ...] = ("cam_high", "cam_left_wrist")
    hw: tuple[int, int] = (480, 640)  # frames as the driver sends them
    camera_gap_s: tuple[float, float] | None = None  # cam_high sends nothing in [a, b)
    zero_stamps: bool = False  # every header stamp zero (a driver that never sets them)
    extra_joints: tuple[str, ...] = ()  # published besides the 9 Interbotix joints
    drop_joint: str | None = None  # a joint the follower driver never publishes
    seed: int = 0


def real_driver_messages(spec: RealDriverSpec):
    """(topic, msgtype, log_ns, message) in time order: 9-joint follower / leader JointStates, JPEG frames."""
    rng = np.random.default_rng(spec.seed)
    js, ci = "sensor_msgs/msg/JointState", "sensor_msgs/msg/CompressedImage"
    out = []
    names = [j for j in ARM + list(spec.extra_joints) if j != spec.drop_joint]
    for k in range(int(spec.seconds * spec.joint_rate_hz)):
        t = T0 + int(k / spec.joint_rate_hz * 1e9)
        for side, arm in enumerate(("left", "right")):
            for role in ("follower", "leader"):
                ns = t + int(rng.uniform(-spec.jitter_s, spec.jitter_s) * 1e9)
                pos = {j: qpos_value(k, side, i) for i, j in enumerate(ARM + list(spec.extra_joints))}
                pos["gripper"] = REAL_GRIPPER[role][k % 2]
                pos["left_finger"], pos["right_finger"] = 0.03, -0.03
                role_names = names if role == "follower" else ARM
                out.append((f"/{role}_{arm}/joint_states", js, ns + 300_000, T[js](
                    header=header(0 if spec.zero_stamps else ns), name=role_names,
                    position=np.array([pos[j] for j in role_names]), velocity=np.zeros(0), effort=np.zeros(0))))
    for k in range(int(spec.seconds * spec.camera_rate_hz)):
        ns = T0 + int(k / spec.camera_rate_hz * 1e9)
        for cam in spec.cameras:
            gap = spec.camera_gap_s
            if cam == "cam_high" and gap and T0 + gap[0] * 1e9 <= ns < T0 + gap[1] * 1e9:
                continue
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame(k, spec.hw), cv2.COLOR_RGB2BGR))
            out.append((REAL_CAMERA_TOPIC.format(cam=cam), ci, ns + 5_000_000, T[ci](
                header=header(0 if spec.zero_stamps else ns), format="jpeg", data=buf.ravel())))
    return sorted(out, key=lambda m: m[2])


def write_real_driver_bag(path: Path, spec: RealDriverSpec, storage: str = "mcap") -> Path:
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns = {}
    with Writer(path, version=9, storage_plugin=plugin) as w:
        for topic, msgtype, log_ns, msg in real_driver_messages(spec):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=TS)
            w.write(conns[topic], log_ns, TS.serialize_cdr(msg, msgtype))
    return path


def write_split_sqlite_bag(path: Path, spec: RealDriverSpec, parts: int = 3) -> Path:
    """A sqlite3 bag split into `parts` files, as `ros2 bag record --max-bag-duration` leaves it:
    <name>_<i>.db3 and one metadata.yaml listing them all."""
    import shutil

    import yaml
    msgs = real_driver_messages(spec)
    path.mkdir(parents=True)
    infos = []
    for i in range(parts):
        part = path.parent / f".{path.name}_part{i}"
        conns = {}
        with Writer(part, version=9, storage_plugin=StoragePlugin.SQLITE3) as w:
            for topic, msgtype, log_ns, msg in msgs[i * len(msgs) // parts:(i + 1) * len(msgs) // parts]:
                if topic not in conns:
                    conns[topic] = w.add_connection(topic, msgtype, typestore=TS)
                w.write(conns[topic], log_ns, TS.serialize_cdr(msg, msgtype))
        shutil.move(part / f"{part.name}.db3", path / f"{path.name}_{i}.db3")
        info = yaml.safe_load((part / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
        info["files"][0]["path"] = f"{path.name}_{i}.db3"
        infos.append(info)
        shutil.rmtree(part)
    merged = dict(infos[0])
    counts: dict[str, dict] = {}
    for info in infos:
        for entry in info["topics_with_message_count"]:
            name = entry["topic_metadata"]["name"]
            counts.setdefault(name, {**entry, "message_count": 0})["message_count"] += entry["message_count"]
    start = min(i["starting_time"]["nanoseconds_since_epoch"] for i in infos)
    end = max(i["starting_time"]["nanoseconds_since_epoch"] + i["duration"]["nanoseconds"] for i in infos)
    merged.update(files=[i["files"][0] for i in infos], relative_file_paths=[i["files"][0]["path"] for i in infos],
                  message_count=sum(i["message_count"] for i in infos), topics_with_message_count=list(counts.values()),
                  starting_time={"nanoseconds_since_epoch": start}, duration={"nanoseconds": end - start})
    (path / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": merged}))
    return path


# --- bags from a single 6-DoF arm on ros2_control (robot description `single_arm_6dof`) ---
SINGLE_ARM_JOINTS = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "gripper_joint"]
SINGLE_ARM_CAMERAS = {"scene": "/scene_camera/image_raw/compressed", "wrist": "/wrist_camera/image_raw/compressed"}
SINGLE_ARM_GRIPPER_OPEN = 0.8  # the description's calibration: closed 0.0, open 0.8 (raw)


def single_arm_qpos(k: int, j: int) -> float:
    """joint j (0..5) at joint-state message k; the gripper (j = 6) alternates closed / open."""
    return SINGLE_ARM_GRIPPER_OPEN * (k % 2) if j == 6 else 0.1 * j + 0.002 * k


def write_single_arm_bag(path: Path, seconds: float = 1.0, executed: bool = False, hw=(48, 64),
                         sidecar: dict | None = None) -> Path:
    """`ros2 bag record` of joint_state_broadcaster's /joint_states (joints in another order than the
    description's, plus a joint it does not know), the leader's /leader/joint_states, two JPEG
    cameras at 30 fps, and with `executed` a /executed_command JointState named by the state vector."""
    js, ci = "sensor_msgs/msg/JointState", "sensor_msgs/msg/CompressedImage"
    state_names = ["shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"]
    out = []
    for k in range(int(seconds * 100)):
        ns = T0 + k * 10_000_000
        order = list(reversed(SINGLE_ARM_JOINTS)) + ["caster_wheel"]
        pos = {n: single_arm_qpos(k, j) for j, n in enumerate(SINGLE_ARM_JOINTS)} | {"caster_wheel": 9.9}
        for topic in ("/joint_states", "/leader/joint_states"):
            out.append((topic, js, ns + 200_000, T[js](header=header(ns), name=order,
                                                       position=np.array([pos[n] for n in order]),
                                                       velocity=np.zeros(0), effort=np.zeros(0))))
        if executed and k % 2 == 0:
            command = [0.5 * single_arm_qpos(k, j) for j in range(6)] + [0.25]
            out.append(("/executed_command", js, ns + 300_000, T[js](
                header=header(ns), name=list(reversed(state_names)), position=np.array(command[::-1]),
                velocity=np.zeros(0), effort=np.zeros(0))))
    for k in range(int(seconds * 30)):
        ns = T0 + int(k / 30 * 1e9)
        for topic in SINGLE_ARM_CAMERAS.values():
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame(k, hw), cv2.COLOR_RGB2BGR))
            out.append((topic, ci, ns + 5_000_000, T[ci](header=header(ns), format="jpeg", data=buf.ravel())))
    conns = {}
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        for topic, msgtype, log_ns, msg in sorted(out, key=lambda m: m[2]):
            if topic not in conns:
                conns[topic] = w.add_connection(topic, msgtype, typestore=TS)
            w.write(conns[topic], log_ns, TS.serialize_cdr(msg, msgtype))
    if sidecar is not None:
        write_sidecar(path, **sidecar)
    return path
