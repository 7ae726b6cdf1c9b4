"""The single description of the RECAP node graph.

`describe_graph(args)` returns the nodes to start, with their parameters (from the robot's YAML,
keyed by node name, overridden by launch arguments) and remappings. Both `launch/*.launch.py`
(launch_ros, on ROS installs) and `recap_bringup.runner` (plain processes, where `ros2 launch` is
absent) build their processes from it, so the two can never disagree.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROBOTS = ("aloha",)


@dataclass(frozen=True)
class LaunchArgs:
    """The arguments of espresso.launch.py / transfer_cube.launch.py and the runner."""

    task: str = "espresso"  # sim task (and the task prompt's key)
    sim: bool = True  # simulated robot (recap_sim) instead of real drivers
    robot: str = "aloha"  # selects config/<robot>.yaml or config/<robot>_sim.yaml
    checkpoint: str = ""  # policy checkpoint dir; empty: no policy node (teleop + recording only)
    record: bool = True  # start the episode recorder
    bag_dir: str = "bags"  # where the recorder writes one bag per episode
    operator: bool = True  # sim only: the simulated operator that corrects the policy
    config_dir: str = ""  # override the config directory (default: the package's share/config)

    def __post_init__(self) -> None:
        if self.robot not in ROBOTS:
            raise ValueError(f"unknown robot {self.robot!r}; known: {', '.join(ROBOTS)}")


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
    required_topics: tuple[str, ...] = ()


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


def load_robot_config(args: LaunchArgs) -> dict[str, dict[str, Any]]:
    """Parameters per node name from config/<robot>[_sim].yaml (ros__parameters layout)."""
    directory = Path(args.config_dir) if args.config_dir else config_dir()
    path = directory / f"{args.robot}{'_sim' if args.sim else ''}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"no graph config {path} for robot={args.robot} sim={args.sim}")
    raw = yaml.safe_load(path.read_text()) or {}
    out: dict[str, dict[str, Any]] = {}
    for node, body in raw.items():
        if not isinstance(body, dict) or "ros__parameters" not in body:
            raise ValueError(f"{path}: entry {node!r} needs a 'ros__parameters' mapping")
        out[node] = dict(body["ros__parameters"] or {})
    return out


@dataclass(frozen=True)
class CheckpointInputs:
    """What a policy checkpoint reads, from its config.json: cameras at (H, W), and how many
    simulator-only object-state features (0 for a policy a real robot can run)."""

    cameras: tuple[str, ...]
    image_size: tuple[int, int] | None
    sim_state_dim: int

    @classmethod
    def read(cls, checkpoint: str | Path) -> CheckpointInputs | None:
        """None where there is no checkpoint (yet): the policy node reports that itself."""
        path = Path(checkpoint) / "config.json"
        if not path.is_file():
            return None
        try:
            observation = json.loads(path.read_text())["model_config"]["observation"]
            cameras = tuple(observation["cameras"])
            return cls(cameras, tuple(int(v) for v in observation["image_size"]) if cameras else None,
                       int(observation["state_dim"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a policy checkpoint config ({exc!r})") from exc


def describe_graph(args: LaunchArgs, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[NodeSpec]:
    """The nodes for `args`, in start order (robot first, recorder last).

    `overrides` (node name -> parameters) is applied on top of the YAML, for programmatic users
    such as the loop (e.g. the sim's real-time factor)."""
    config = load_robot_config(args)
    for node, extra in (overrides or {}).items():
        config[node] = {**config.get(node, {}), **extra}

    def params(node: str, **overrides: Any) -> dict[str, Any]:
        merged = {**config.get(node, {}), **overrides}
        if args.sim:
            merged["use_sim_time"] = True
        return merged

    joint_topics = ("/follower_left/joint_states", "/follower_right/joint_states")
    nodes: list[NodeSpec] = []
    if args.sim:
        # The simulated operator runs inside the sim process (it needs the simulator's state to plan
        # its corrections) and acts only through the human interfaces: leader arms + /takeover/request.
        nodes.append(NodeSpec("recap_sim", "sim_node", "recap_sim.sim_node", "sim_node",
                              params("sim_node", task=args.task, **{"operator.enabled": args.operator})))
    if args.checkpoint:
        inputs = CheckpointInputs.read(args.checkpoint)
        if inputs is not None and inputs.sim_state_dim and not args.sim:
            raise ValueError(
                f"the policy at {args.checkpoint} reads the simulator's object state ({inputs.sim_state_dim} "
                "features of env_state), which a real robot does not publish; train it on cameras and joints "
                "(recap-lab loop --observation cameras, or recap train-policy --cameras ...)")
        policy = params("policy_node", checkpoint=args.checkpoint, task=args.task)
        # The node's default topic for each camera the checkpoint reads, unless the config names them.
        cameras = tuple(t for t in policy.get("camera_topics", ()) if t) or \
            tuple(f"/{c}/image_raw" for c in (inputs.cameras if inputs else ()))
        nodes.append(NodeSpec("recap_policy", "policy_node", "recap_policy.policy_node", "policy_node",
                              policy, required_topics=joint_topics + cameras))
    policy_topics = ("/policy/command",) if args.checkpoint else ()
    nodes.append(NodeSpec("recap_teleop", "arbitration_node", "recap_teleop.arbitration_node",
                          "arbitration_node", params("arbitration_node"), required_topics=joint_topics + policy_topics))
    if args.record:
        nodes.append(NodeSpec("recap_recorder", "episode_recorder", "recap_recorder.recorder_node",
                              "episode_recorder", params("episode_recorder", bag_dir=args.bag_dir)))
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
