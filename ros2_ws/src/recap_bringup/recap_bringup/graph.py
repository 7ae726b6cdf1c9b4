"""The single description of the RECAP node graph.

`describe_graph(args)` returns the nodes to start, with their parameters (from the node tuning file
config/<robot name>.yaml, else config/default.yaml, keyed by node name, overridden by launch arguments)
and the topics each needs from others. The robot description (recap_core.robot_description) gives
every topic, joint and camera; each node gets its file path as the parameter `robot`. Both
`launch/*.launch.py` (launch_ros, on ROS installs) and `recap_bringup.runner` (plain processes, where
`ros2 launch` is absent) build their processes from it, so the two can never disagree.

The policy, arbitration and recorder nodes are managed (lifecycle) nodes started with
`autostart: false`; the graph drives them with recap_lifecycle.transitions in the order they are
listed here: arbitration_node, episode_recorder, policy_node, each configured before any is
activated. The arbiter comes first so that it holds the arms before the policy commands anything,
and the recorder before the policy so that an episode can record the policy's first chunk.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recap_core.robot_description import ROBOT_PARAMETER, ArmDescription, RobotDescription, load_robot

SIM_ROBOT = "aloha_sim"  # the simulator is an ALOHA: sim:=true runs this description
DEFAULT_CONFIG = "default"  # config/default.yaml: the tuning of a robot without its own file
JOINT_STATE = "sensor_msgs/msg/JointState"
# Every node runs with Python's faulthandler: a node killed by a signal (a segfault in the ROS client
# library or a driver's C code) leaves its Python stack in its log instead of only an exit code.
NODE_ENVIRONMENT = {"PYTHONFAULTHANDLER": "1"}


@dataclass(frozen=True)
class LaunchArgs:
    """The arguments of espresso.launch.py / transfer_cube.launch.py and the runner."""

    task: str = "espresso"  # sim task (and the task prompt's key)
    sim: bool = True  # simulated robot (recap_sim) instead of real drivers
    robot: str = ROBOT_PARAMETER[1]  # robot description: a shipped name or a YAML path
    checkpoint: str = ""  # policy checkpoint dir; empty: no policy node (teleop + recording only)
    record: bool = True  # start the episode recorder
    bag_dir: str = "bags"  # where the recorder writes one bag per episode
    operator: bool = True  # sim only: the simulated operator that corrects the policy
    config_dir: str = ""  # override the config directory (default: the package's share/config)


@dataclass(frozen=True)
class RequiredTopic:
    """A topic a node needs someone else to publish, with the type the description gives it."""

    name: str
    msgtype: str  # "pkg/msg/Type"
    joints: tuple[str, ...] = ()  # driver joints every JointState on it must carry


@dataclass(frozen=True)
class NodeSpec:
    """One process of the graph."""

    package: str
    executable: str  # console script name (ros2 run / launch_ros)
    module: str  # the same entry point as `python -m <module>` (the runner)
    name: str  # node name
    parameters: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    # Topics this node needs someone else to publish; the startup check names the silent ones.
    required_topics: tuple[RequiredTopic, ...] = ()
    managed: bool = False  # a lifecycle node the graph configures and activates


def managed_nodes(specs: list[NodeSpec]) -> list[str]:
    """The lifecycle nodes of a graph, in the order they are configured and activated."""
    return [spec.name for spec in specs if spec.managed]


def config_dir() -> Path:
    """share/recap_bringup/config when installed; the source tree's config otherwise."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
        try:
            path = Path(get_package_share_directory("recap_bringup")) / "config"
            if path.is_dir():
                return path
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parent.parent / "config"


def robot_description(args: LaunchArgs) -> RobotDescription:
    """The description `args.robot` names; with sim:=true it must be the simulator's."""
    robot = load_robot(args.robot)
    sim = load_robot(SIM_ROBOT)
    is_sim = robot.description_hash() == sim.description_hash()
    if args.sim and not is_sim:
        raise ValueError(f"sim:=true runs the simulated ALOHA, described by {SIM_ROBOT} ({sim.source}); "
                         f"robot:={args.robot} describes {robot.name!r}: leave robot at {SIM_ROBOT} for the "
                         "simulator, or set sim:=false for a real robot")
    if not args.sim and is_sim:
        raise ValueError(f"robot:={args.robot} describes the simulator; with sim:=false name your robot's "
                         "description: robot:=aloha, robot:=single_arm_6dof or robot:=<path to its YAML> "
                         "(docs/ROBOTS.md)")
    return robot


def load_node_config(args: LaunchArgs, robot: RobotDescription) -> dict[str, dict[str, Any]]:
    """Parameters per node name from config/<robot name>.yaml, else config/default.yaml."""
    directory = Path(args.config_dir) if args.config_dir else config_dir()
    path = directory / f"{robot.name}.yaml"
    if not path.is_file():
        path = directory / f"{DEFAULT_CONFIG}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no node config {directory}/{robot.name}.yaml nor {path}")
    raw = yaml.safe_load(path.read_text()) or {}
    out: dict[str, dict[str, Any]] = {}
    for node, body in raw.items():
        if not isinstance(body, dict) or "ros__parameters" not in body:
            raise ValueError(f"{path}: entry {node!r} needs a 'ros__parameters' mapping")
        out[node] = dict(body["ros__parameters"] or {})
    return out


@dataclass(frozen=True)
class CheckpointRobot:
    """The robot a checkpoint was trained for (config.json's top-level `robot` block)."""

    name: str
    description_hash: str
    joint_names: tuple[str, ...]


@dataclass(frozen=True)
class CheckpointInputs:
    """What a policy checkpoint reads, from its config.json: cameras at (H, W), how many
    simulator-only object-state features (0 for a policy a real robot can run), and the robot
    it was trained for (None where the config names none)."""

    cameras: tuple[str, ...]
    image_size: tuple[int, int] | None
    sim_state_dim: int
    robot: CheckpointRobot | None
    horizon: int  # H: actions per chunk

    @classmethod
    def read(cls, checkpoint: str | Path) -> CheckpointInputs | None:
        """None where there is no checkpoint (yet): the policy node reports that itself."""
        path = Path(checkpoint) / "config.json"
        if not path.is_file():
            return None
        try:
            config = json.loads(path.read_text())
            observation = config["model_config"]["observation"]
            cameras = tuple(observation["cameras"])
            block = config.get("robot")
            robot = None if block is None else CheckpointRobot(
                str(block["name"]), str(block["description_hash"]), tuple(map(str, block["joint_names"])))
            return cls(cameras, tuple(int(v) for v in observation["image_size"]) if cameras else None,
                       int(observation["state_dim"]), robot, int(config["model_config"]["horizon"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a policy checkpoint config ({exc!r})") from exc

    def check_robot(self, checkpoint: str | Path, robot: RobotDescription) -> None:
        """Refuse a checkpoint trained for another robot, or one reading a camera `robot` lacks."""
        where = f"the policy at {checkpoint}"
        fix = ("train it on data converted with this description (recap dataset build --robot ...), or set "
               "robot:= to the description it was trained for")
        if self.robot is None:
            raise ValueError(f"{where} names no robot (its config.json has no 'robot' block), so it cannot be "
                             f"checked against robot {robot.name!r} ({robot.source}); {fix}")
        if self.robot.description_hash != robot.description_hash():
            raise ValueError(f"{where} was trained for robot {self.robot.name!r} (description hash "
                             f"{self.robot.description_hash}); this graph runs robot {robot.name!r} ({robot.source}, "
                             f"hash {robot.description_hash()}): {fix}")
        have = [c.name for c in robot.cameras]
        missing = [c for c in self.cameras if c not in have]
        if missing:
            raise ValueError(f"{where} reads camera(s) {missing}, which robot {robot.name!r} ({robot.source}) "
                             f"lacks (its cameras: {have})")


def joint_topics(arms: tuple[ArmDescription, ...]) -> tuple[RequiredTopic, ...]:
    """Each arm's JointState topic with the driver joints the description maps on it."""
    return tuple(RequiredTopic(arm.joint_states, JOINT_STATE, (*(d for d, _ in arm.joints), arm.gripper.joint))
                 for arm in arms)


def describe_graph(args: LaunchArgs, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[NodeSpec]:
    """The nodes for `args`, in start order: the sim, then the managed nodes in transition order.

    `overrides` (node name -> parameters) is applied on top of the YAML, for programmatic users
    such as the loop (e.g. the sim's real-time factor)."""
    robot = robot_description(args)
    config = load_node_config(args, robot)
    for node, extra in (overrides or {}).items():
        config[node] = {**config.get(node, {}), **extra}
    robot_path = str(Path(robot.source).resolve())

    def params(node: str, managed: bool, **explicit: Any) -> dict[str, Any]:
        merged = {**config.get(node, {}), **explicit, ROBOT_PARAMETER[0]: robot_path}
        if managed:
            merged["autostart"] = False
        if args.sim:
            merged["use_sim_time"] = True
        return merged

    followers = joint_topics(robot.follower_arms)
    # The sim publishes the leader arms only while its simulated operator runs.
    leaders = joint_topics(robot.leader_arms) if not args.sim or args.operator else ()
    nodes: list[NodeSpec] = []
    if args.sim:
        # The simulated operator runs inside the sim process (it needs the simulator's state to plan
        # its corrections) and acts only through the human interfaces: leader arms + /takeover/request.
        nodes.append(NodeSpec("recap_sim", "sim_node", "recap_sim.sim_node", "sim_node",
                              params("sim_node", False, task=args.task, **{"operator.enabled": args.operator})))
    policy_topics = (RequiredTopic("/policy/command", JOINT_STATE),) if args.checkpoint else ()
    nodes.append(NodeSpec("recap_teleop", "arbitration_node", "recap_teleop.arbitration_node", "arbitration_node",
                          params("arbitration_node", True), required_topics=followers + leaders + policy_topics,
                          managed=True))
    if args.record:
        nodes.append(NodeSpec("recap_recorder", "episode_recorder", "recap_recorder.recorder_node",
                              "episode_recorder", params("episode_recorder", True, bag_dir=args.bag_dir, sim=args.sim),
                              managed=True))
    if args.checkpoint:
        inputs = CheckpointInputs.read(args.checkpoint)
        if inputs is not None:
            if inputs.sim_state_dim and not args.sim:
                raise ValueError(
                    f"the policy at {args.checkpoint} reads the simulator's object state ({inputs.sim_state_dim} "
                    "features of env_state), which a real robot does not publish; train it on cameras and joints "
                    "(recap-lab loop --observation cameras, or recap train-policy --cameras ...)")
            inputs.check_robot(args.checkpoint, robot)
        cameras = tuple(RequiredTopic(robot.camera(name).topic, robot.camera(name).msgtype)
                        for name in (inputs.cameras if inputs else ()))
        nodes.append(NodeSpec("recap_policy", "policy_node", "recap_policy.policy_node", "policy_node",
                              params("policy_node", True, checkpoint=args.checkpoint, task=args.task),
                              required_topics=followers + cameras, managed=True))
    return nodes


def ros_args(spec: NodeSpec, params_file: str) -> list[str]:
    """`--ros-args` for a node started as a plain process from `spec`."""
    out = ["--ros-args", "-r", f"__node:={spec.name}", "--params-file", params_file]
    for src, dst in spec.remappings:
        out += ["-r", f"{src}:={dst}"]
    return out


def params_yaml(spec: NodeSpec) -> str:
    """The node's parameters as a ROS 2 params file."""
    return yaml.safe_dump({spec.name: {"ros__parameters": dict(spec.parameters)}}, sort_keys=True)
