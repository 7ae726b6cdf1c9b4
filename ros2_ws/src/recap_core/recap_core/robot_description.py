"""A robot description: the one YAML file that says which topics, joints, cameras and grippers a robot has.

Every part that meets the robot reads it (the dataset converter, and the nodes). The state vector is
built by joint name: per follower arm its mapped joints in the order the description lists them,
then its gripper normalised to [0, 1] (0 = closed). Joints a driver publishes that the description
neither maps nor lists under `ignore` are ignored too, and reported (`ArmDescription.unknown_joints`).
Shipped descriptions live in recap_core/robots/ (`shipped_robots()`); `load_robot` takes one of
their names or a file path. The format, field by field, is in docs/ROBOTS.md.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from recap_core.aloha_layout import GripperCalibration, JointNameError

ADAPTERS = ("joint_state", "joint_trajectory", "interbotix")
# Command topics per follower arm, by adapter: interbotix takes a JointGroupCommand (arm joints) and a
# JointSingleCommand (gripper) topic, the others one topic per arm.
ADAPTER_TOPICS = {"joint_state": 1, "joint_trajectory": 1, "interbotix": 2}
ENCODINGS = ("raw", "compressed")
# The ROS parameter through which every node of the graph is told its robot: (name, default, help).
ROBOT_PARAMETER = ("robot", "aloha_sim", "the robot description: a shipped name (aloha, aloha_sim, single_arm_6dof) "
                   "or a YAML file path; it gives the topics, joints, cameras, grippers and limits (docs/ROBOTS.md)")


class RobotDescriptionError(ValueError):
    """A description that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class GripperDescription:
    joint: str  # the driver's name of the gripper joint in the JointState
    name: str  # its name in the state vector
    calibration: GripperCalibration  # raw readings (driver units) when closed and open


@dataclass(frozen=True)
class ArmDescription:
    """One arm as its driver publishes it on a JointState topic."""

    name: str  # e.g. "left"
    joint_states: str  # sensor_msgs/JointState topic
    joints: tuple[tuple[str, str], ...]  # (driver name, state-vector name), in state-vector order
    gripper: GripperDescription
    ignore: tuple[str, ...] = ()  # driver joints published but not used (e.g. finger joints)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The arm's state-vector names: mapped joints, then the gripper."""
        return (*(name for _, name in self.joints), self.gripper.name)

    def vector(self, names: Sequence[str], positions: Sequence[float], source: str = "joint state") -> np.ndarray:
        """The arm's vector (len(joint_names),) from a JointState's (names, positions), gripper normalised.

        Raises JointNameError naming `source` and the driver joints that are missing.
        """
        if len(names) != len(positions):
            raise JointNameError(f"{source}: {len(names)} names but {len(positions)} positions")
        index = {n: i for i, n in enumerate(names)}
        wanted = [driver for driver, _ in self.joints] + [self.gripper.joint]
        missing = [j for j in wanted if j not in index]
        if missing:
            raise JointNameError(f"{source}: missing joint(s) {missing}; got {list(names)}")
        out = np.array([positions[index[j]] for j in wanted], dtype=np.float64)
        out[-1] = self.gripper.calibration.normalise(out[-1])
        return out

    def unknown_joints(self, names: Sequence[str]) -> list[str]:
        """Joints in `names` the description neither maps nor ignores."""
        known = {driver for driver, _ in self.joints} | {self.gripper.joint, *self.ignore}
        return [n for n in names if n not in known]


@dataclass(frozen=True)
class CameraDescription:
    name: str  # the camera's name in datasets and models
    topic: str
    encoding: str  # "raw" (sensor_msgs/Image) or "compressed" (sensor_msgs/CompressedImage)
    rate_hz: float  # the rate the driver publishes at
    size: tuple[int, int]  # (H, W) of the frames the driver publishes

    @property
    def msgtype(self) -> str:
        return "sensor_msgs/msg/Image" if self.encoding == "raw" else "sensor_msgs/msg/CompressedImage"


@dataclass(frozen=True)
class CommandOutputs:
    adapter: str  # one of ADAPTERS
    topics: tuple[tuple[str, tuple[str, ...]], ...]  # (follower arm name, its command topics)


@dataclass(frozen=True)
class JointLimit:
    lower: float  # rad (the normalised gripper: 0..1)
    upper: float
    max_velocity: float  # rad/s (the gripper: 1/s)


@dataclass(frozen=True)
class RobotDescription:
    name: str
    control_rate_hz: float
    follower_arms: tuple[ArmDescription, ...]
    leader_arms: tuple[ArmDescription, ...]  # empty: no leader arms
    cameras: tuple[CameraDescription, ...]
    commands: CommandOutputs
    joint_limits: tuple[tuple[str, JointLimit], ...]  # (state-vector name, limit) in joint_names order
    home: tuple[tuple[str, float], ...] = ()  # (state-vector name, position) given by `home:`; others 0
    source: str = "<description>"  # the file it was read from; not part of its content or hash

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The state vector: the follower arms' joint names in order."""
        return tuple(n for arm in self.follower_arms for n in arm.joint_names)

    @property
    def action_dim(self) -> int:
        """D: the state vector's and the action's size."""
        return len(self.joint_names)

    @property
    def gripper_indices(self) -> tuple[int, ...]:
        """Where each follower arm's gripper sits in the state vector."""
        names = self.joint_names
        return tuple(names.index(arm.gripper.name) for arm in self.follower_arms)

    @property
    def follower_topics(self) -> tuple[str, ...]:
        return tuple(arm.joint_states for arm in self.follower_arms)

    @property
    def leader_topics(self) -> tuple[str, ...]:
        return tuple(arm.joint_states for arm in self.leader_arms)

    @property
    def control_period(self) -> float:
        return 1.0 / self.control_rate_hz

    def home_pose(self) -> np.ndarray:
        """(D,) the pose `reset to home` drives to: `home:` where given, else 0, within the joint limits."""
        given = dict(self.home)
        lower, upper, _ = self.limits()
        return np.clip(np.array([given.get(n, 0.0) for n in self.joint_names]), lower, upper)

    def camera(self, name: str) -> CameraDescription:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise RobotDescriptionError(f"{self.source}: robot {self.name!r} has no camera {name!r} "
                                    f"(cameras: {[c.name for c in self.cameras]})")

    def limits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lower, upper, max_velocity), each (D,) in joint_names order."""
        values = np.array([[lim.lower, lim.upper, lim.max_velocity] for _, lim in self.joint_limits])
        return values[:, 0], values[:, 1], values[:, 2]

    def to_dict(self) -> dict[str, Any]:
        """The YAML content (without `source`); `from_dict(to_dict())` gives an equal description."""
        def arm(a: ArmDescription) -> dict[str, Any]:
            cal = a.gripper.calibration
            return {"name": a.name, "joint_states": a.joint_states, "joints": dict(a.joints),
                    "gripper": {"joint": a.gripper.joint, "name": a.gripper.name, "closed": cal.closed,
                                "open": cal.open}, "ignore": list(a.ignore)}
        return {
            "name": self.name, "control_rate_hz": self.control_rate_hz,
            "follower_arms": [arm(a) for a in self.follower_arms],
            "leader_arms": [arm(a) for a in self.leader_arms],
            "cameras": [{"name": c.name, "topic": c.topic, "encoding": c.encoding, "rate_hz": c.rate_hz,
                         "size": list(c.size)} for c in self.cameras],
            "commands": {"adapter": self.commands.adapter,
                         "topics": {arm: list(topics) for arm, topics in self.commands.topics}},
            "joint_limits": {n: {"lower": lim.lower, "upper": lim.upper, "max_velocity": lim.max_velocity}
                             for n, lim in self.joint_limits},
            **({"home": dict(self.home)} if self.home else {}),
        }

    def description_hash(self) -> str:
        """16 hex digits of the SHA-256 of the canonical JSON content: equal content, equal hash.

        The state vector's order is hashed explicitly: canonical JSON sorts mapping keys, and the
        order of an arm's `joints` mapping is the order of the state vector."""
        content = {"description": self.to_dict(), "state_vector": list(self.joint_names)}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Any, source: str = "<description>") -> RobotDescription:
        return _parse(_Node(data, source, ""))


def shipped_robots() -> dict[str, Path]:
    """Name -> file of the descriptions shipped in recap_core/robots/."""
    folder = resources.files("recap_core") / "robots"
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir() if str(f).endswith(".yaml")}


def load_robot(name_or_path: str | Path) -> RobotDescription:
    """A shipped description by name (`aloha`, `aloha_sim`, ...) or a YAML file by path."""
    shipped = shipped_robots()
    text = str(name_or_path)
    if text in shipped:
        path = shipped[text]
    elif text.endswith((".yaml", ".yml")) or "/" in text or Path(text).is_file():
        path = Path(text)
        if not path.is_file():
            raise RobotDescriptionError(f"robot description {path}: no such file")
    else:
        close = difflib.get_close_matches(text, shipped, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise RobotDescriptionError(f"unknown robot {text!r}: {hint}shipped descriptions: "
                                    f"{', '.join(sorted(shipped))}, or give a YAML file path")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RobotDescriptionError(f"robot description {path}: cannot be read: {exc}") from exc
    return RobotDescription.from_dict(data, source=str(path))


class _Node:
    """A value in the YAML tree that knows where it sits, so that every error names file and field."""

    def __init__(self, value: Any, source: str, path: str) -> None:
        self.value, self.source, self.path = value, source, path

    def fail(self, problem: str) -> RobotDescriptionError:
        return RobotDescriptionError(f"{self.source}: {self.path or '<top>'} {problem}")

    def child(self, key: str | int, optional: bool = False, default: Any = None) -> _Node:
        path = f"{self.path}[{key}]" if isinstance(key, int) else f"{self.path}.{key}".lstrip(".")
        if isinstance(key, int):
            return _Node(self.value[key], self.source, path)
        mapping = self.mapping()
        if key not in mapping:
            if not optional:
                raise self.fail(f"misses the field {key!r}")
            return _Node(default, self.source, path)
        return _Node(mapping[key], self.source, path)

    def mapping(self) -> Mapping:
        if not isinstance(self.value, Mapping):
            raise self.fail(f"must be a mapping, got {self.value!r}")
        return self.value

    def only(self, *keys: str) -> None:
        unknown = sorted(set(self.mapping()) - set(keys))
        if unknown:
            raise self.fail(f"has unknown field(s) {unknown}; known: {list(keys)}")

    def items(self) -> list[_Node]:
        if not isinstance(self.value, list):
            raise self.fail(f"must be a list, got {self.value!r}")
        return [self.child(i) for i in range(len(self.value))]

    def text(self, topic: bool = False) -> str:
        if not isinstance(self.value, str) or not self.value:
            raise self.fail(f"must be a non-empty string, got {self.value!r}")
        if topic and not self.value.startswith("/"):
            raise self.fail(f"must be an absolute topic name starting with '/', got {self.value!r}")
        return self.value

    def number(self, positive: bool = False) -> float:
        ok = isinstance(self.value, (int, float)) and not isinstance(self.value, bool) and math.isfinite(self.value)
        if not ok or (positive and self.value <= 0):
            raise self.fail(f"must be a {'positive ' if positive else ''}finite number, got {self.value!r}")
        return float(self.value)


def _unique(node: _Node, names: Sequence[str], what: str) -> None:
    repeated = sorted({n for n in names if list(names).count(n) > 1})
    if repeated:
        raise node.fail(f"names the {what} {repeated} more than once")


def _arm(node: _Node) -> ArmDescription:
    node.only("name", "joint_states", "joints", "gripper", "ignore")
    joints_node = node.child("joints")
    joints = tuple((str(k), joints_node.child(str(k)).text()) for k in joints_node.mapping())
    if not joints:
        raise joints_node.fail("must map at least one driver joint to a state-vector name")
    g = node.child("gripper")
    g.only("joint", "name", "closed", "open")
    closed, opened = g.child("closed").number(), g.child("open").number()
    if closed == opened:
        raise g.fail(f"closed and open must differ, got {closed} and {opened}")
    gripper = GripperDescription(g.child("joint").text(), g.child("name").text(), GripperCalibration(closed, opened))
    ignore = tuple(n.text() for n in node.child("ignore", optional=True, default=[]).items())
    arm = ArmDescription(node.child("name").text(), node.child("joint_states").text(topic=True), joints, gripper,
                         ignore)
    driver = [d for d, _ in joints] + [gripper.joint]
    _unique(node, driver, "driver joint(s)")
    _unique(node, arm.joint_names, "state-vector joint(s)")
    both = sorted(set(ignore) & set(driver))
    if both:
        raise node.child("ignore").fail(f"lists joint(s) {both} that the arm also uses")
    return arm


def _camera(node: _Node) -> CameraDescription:
    node.only("name", "topic", "encoding", "rate_hz", "size")
    encoding = node.child("encoding").text()
    if encoding not in ENCODINGS:
        raise node.child("encoding").fail(f"must be one of {list(ENCODINGS)}, got {encoding!r}")
    size_node = node.child("size")
    size = [s.number(positive=True) for s in size_node.items()]
    if len(size) != 2 or any(s != int(s) for s in size):
        raise size_node.fail(f"must be [H, W] in whole pixels, got {size_node.value!r}")
    return CameraDescription(node.child("name").text(), node.child("topic").text(topic=True), encoding,
                             node.child("rate_hz").number(positive=True), (int(size[0]), int(size[1])))


def _commands(node: _Node, arms: tuple[ArmDescription, ...]) -> CommandOutputs:
    node.only("adapter", "topics")
    adapter = node.child("adapter").text()
    if adapter not in ADAPTERS:
        raise node.child("adapter").fail(f"must be one of {list(ADAPTERS)}, got {adapter!r}")
    topics_node = node.child("topics")
    names = [a.name for a in arms]
    if sorted(map(str, topics_node.mapping())) != sorted(names):
        raise topics_node.fail(f"must name each follower arm {names} once, got {list(topics_node.mapping())}")
    out = []
    for arm in names:
        per_arm = topics_node.child(arm)
        topics = tuple(t.text(topic=True) for t in per_arm.items())
        if len(topics) != ADAPTER_TOPICS[adapter]:
            raise per_arm.fail(f"needs {ADAPTER_TOPICS[adapter]} topic(s) for the {adapter} adapter, got {len(topics)}")
        out.append((arm, topics))
    return CommandOutputs(adapter, tuple(out))


def _limits(node: _Node, joint_names: tuple[str, ...]) -> tuple[tuple[str, JointLimit], ...]:
    given = [str(k) for k in node.mapping()]
    missing, unknown = [j for j in joint_names if j not in given], [j for j in given if j not in joint_names]
    if missing or unknown:
        raise node.fail(f"must give every state-vector joint once: missing {missing}, unknown {unknown}")
    out = []
    for joint in joint_names:
        j = node.child(joint)
        j.only("lower", "upper", "max_velocity")
        limit = JointLimit(j.child("lower").number(), j.child("upper").number(),
                           j.child("max_velocity").number(positive=True))
        if not limit.lower < limit.upper:
            raise j.fail(f"lower must be below upper, got {limit.lower} and {limit.upper}")
        out.append((joint, limit))
    return tuple(out)


def _parse(root: _Node) -> RobotDescription:
    root.only("name", "control_rate_hz", "follower_arms", "leader_arms", "cameras", "commands", "joint_limits",
              "home")
    followers = tuple(_arm(a) for a in root.child("follower_arms").items())
    if not followers:
        raise root.child("follower_arms").fail("must list at least one arm")
    leaders = tuple(_arm(a) for a in root.child("leader_arms", optional=True, default=[]).items())
    _unique(root.child("follower_arms"), [a.name for a in followers], "arm(s)")
    names = tuple(n for a in followers for n in a.joint_names)
    _unique(root.child("follower_arms"), names, "state-vector joint(s)")
    leader_names = tuple(n for a in leaders for n in a.joint_names)
    if leaders and leader_names != names:
        raise root.child("leader_arms").fail(f"must give the followers' state vector {list(names)} (the action), "
                                             f"got {list(leader_names)}")
    cameras_node = root.child("cameras", optional=True, default=[])
    cameras = tuple(_camera(c) for c in cameras_node.items())
    _unique(cameras_node, [c.name for c in cameras], "camera(s)")
    return RobotDescription(
        name=root.child("name").text(), control_rate_hz=root.child("control_rate_hz").number(positive=True),
        follower_arms=followers, leader_arms=leaders, cameras=cameras,
        commands=_commands(root.child("commands"), followers),
        joint_limits=_limits(root.child("joint_limits"), names),
        home=_home(root.child("home", optional=True, default={}), names), source=root.source)


def _home(node: _Node, joint_names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    unknown = [str(k) for k in node.mapping() if k not in joint_names]
    if unknown:
        raise node.fail(f"names joint(s) {unknown} that are not in the state vector {list(joint_names)}")
    return tuple((joint, node.child(joint).number()) for joint in joint_names if joint in node.mapping())
