"""Sizes of a loop run. `quick` is exercised by the test suite; `default` is the README's main job."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class LoopConfig:
    task: str = "espresso"
    iterations: int = 2  # K: RECAP iterations after the SFT policy pi^0 (the paper needs 1-2)
    demos: int = 50  # mixed-quality scripted-expert demonstrations (D_demo)
    rollouts_per_iteration: int = 15  # deployments of pi^{k-1} through the ROS graph, operator correcting
    eval_episodes: int = 100  # in-process evaluation episodes per policy
    value_steps: int = 1000  # gradient steps for V_pre (each fine-tune: half)
    policy_steps: int = 2000  # gradient steps for pi_pre (each fine-tune: half)
    baselines: bool = True  # plain BC, filtered BC and AWR on the final data
    real_time_factor: float = 1.0  # the sim node's pace during deployment
    # The loop trains state-only policies, which never read images: rendering three cameras costs
    # ~45 ms a frame on this CPU and slows the sim below real time, so deployments skip it unless asked.
    render_cameras: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 0 or min(self.demos, self.rollouts_per_iteration, self.eval_episodes,
                                      self.value_steps, self.policy_steps) < 1:
            raise ValueError(f"loop sizes must be positive (iterations may be 0): {self}")

    def hash(self) -> str:
        """Identifies the run: a ledger from another configuration is not resumed."""
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


PRESETS = {
    "quick": LoopConfig(iterations=1, demos=6, rollouts_per_iteration=2, eval_episodes=4,
                        value_steps=20, policy_steps=20, baselines=False),
    "default": LoopConfig(),
}
