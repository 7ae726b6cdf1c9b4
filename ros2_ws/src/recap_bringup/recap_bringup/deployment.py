"""Deploy a policy through the real ROS graph (sim with the simulated operator, policy,
arbitration, recorder) and record episodes. Which episodes to run and where their results go is
the caller's (the RECAP loop keeps them in its ledger, so a run resumes per episode)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from recap_bringup.graph import CheckpointInputs, LaunchArgs, describe_graph
from recap_bringup.graph_session import GraphSession


@dataclasses.dataclass(frozen=True)
class DeploymentConfig:
    task: str
    prompt: str
    episodes: int
    first_seed: int
    wall_timeout_s: float  # per episode, then it is aborted
    iteration: int = 0  # stored in each bag's metadata
    real_time_factor: float = 1.0
    # Cameras the sim renders, publishes and the recorder records, besides those the policy reads
    # (always rendered, at the size the policy was trained on).
    cameras: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None  # (H, W) of every camera; None: the policy's, else the sim's
    # None: the policy node's own chunking (real-time chunking). k: a new chunk every k ticks, each
    # followed from its arrival, as the in-process evaluation executes chunks.
    execute_steps: int | None = None
    takeover_deviation: tuple[float, float] | None = None  # (rad, s) of the operator's deviation trigger
    noise_scale: float | None = None  # the policy node's sampling noise; None: the node's default
    advantage: str = "positive"  # the indicator the policy node conditions on
    guidance_scale: float = 1.0  # the policy node's classifier-free guidance beta
    startup_timeout_s: float = 60.0
    operator: bool = True  # the simulated operator takes over and corrects the policy
    # ROS domain of the graph; None: one that is free on this machine when the graph starts.
    domain_id: int | None = None


def deployment_graph(policy_dir: Path, bag_dir: Path, cfg: DeploymentConfig):
    """The sim renders the cameras the policy reads at the size it was trained on (and any others
    asked for), so the policy sees on the topics what it saw in training."""
    inputs = CheckpointInputs.read(policy_dir)
    if inputs is None:
        raise FileNotFoundError(f"no policy checkpoint at {policy_dir} (config.json missing)")
    needed, trained_size = inputs.cameras, inputs.image_size
    cameras = tuple(dict.fromkeys((*needed, *cfg.cameras)))
    size = cfg.image_size or trained_size
    if needed and size != trained_size:
        raise ValueError(f"the policy at {policy_dir} was trained on {trained_size[1]}x{trained_size[0]} images; "
                         f"the deployment asks for {size[1]}x{size[0]}")
    sim = {"real_time_factor": cfg.real_time_factor, "cameras": list(cameras) or ["none"]}
    if size is not None:
        sim["image_height"], sim["image_width"] = size
    if cfg.takeover_deviation is not None:
        sim["operator.deviation_threshold"], sim["operator.deviation_duration_s"] = map(float, cfg.takeover_deviation)
    policy = {"advantage": cfg.advantage, "guidance_scale": float(cfg.guidance_scale)}
    if cfg.noise_scale is not None:
        policy["noise_scale"] = float(cfg.noise_scale)
    if cfg.execute_steps is not None:
        policy.update(scheduler="plain", inference_every=cfg.execute_steps)
    overrides = {"sim_node": sim, "episode_recorder": {"iteration": cfg.iteration}, "policy_node": policy}
    return describe_graph(LaunchArgs(task=cfg.task, checkpoint=str(policy_dir), bag_dir=str(bag_dir),
                                     operator=cfg.operator), overrides=overrides)


def deploy(policy_dir: Path, bag_dir: Path, log_dir: Path, cfg: DeploymentConfig, episodes: Sequence[int],
           finished: Callable[[int, dict], None]) -> None:
    """Record episodes `episodes` (indices into 0 .. cfg.episodes - 1; seed cfg.first_seed + i) of
    `policy_dir` through one graph; `finished(i, result)` is called as each episode ends."""
    if not episodes:
        return
    with GraphSession(deployment_graph(policy_dir, bag_dir, cfg), log_dir, cfg.startup_timeout_s,
                      domain_id=cfg.domain_id) as session:
        for i in episodes:
            result = session.run_episode(cfg.task, cfg.first_seed + i, cfg.prompt, cfg.wall_timeout_s)
            finished(i, dataclasses.asdict(result))
