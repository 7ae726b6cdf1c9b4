"""Sizes of a loop run. `quick` is exercised by the test suite; `default` is the README's main job
(espresso learnt in part in <= 30 min on 2 cores, without baselines); `full` adds the baselines."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from recap_model.policy import DEFAULT_NOISE_SCALE
from recap_trainer.algorithm import AlgorithmConfig


@dataclass(frozen=True)
class LoopConfig:
    task: str = "espresso"
    iterations: int = 2  # K: RECAP iterations after the SFT policy pi^0 (the paper needs 1-2)
    # Sizes at which espresso is learnt in part (docs/BRINGUP.md); at 50 demos and 2000 steps every
    # espresso policy stayed below 1 %.
    demos: int = 600  # mixed-quality scripted-expert demonstrations (D_demo)
    rollouts_per_iteration: int = 25  # deployments of pi^{k-1} through the ROS graph, operator correcting
    eval_episodes: int = 200  # in-process evaluation episodes per policy
    # Gradient steps of V_pre and pi_pre (each fine-tune: half): AlgorithmConfig's, the product's sizes.
    value_steps: int = AlgorithmConfig.pretrain_value.steps
    policy_steps: int = AlgorithmConfig.pretrain_policy.steps
    # Plain BC, filtered BC and AWR on the final data, each with pi^K's policy steps: about 28 more
    # minutes at the default size. They can be added to a finished run (not part of its hash).
    baselines: bool = False
    # Torch threads for training and evaluation, and processes generating the demonstrations, all of
    # which run while the graph is down (2 threads train the default model 1.37x faster than 1 on
    # this 2-core machine). Not part of the hash either: the data are the same for any number.
    train_threads: int = 2
    real_time_factor: float = 1.0  # the sim node's pace during deployment
    # The loop trains state-only policies, which never read images: rendering three cameras costs
    # ~45 ms a frame on this CPU and slows the sim below real time, so deployments skip it unless asked.
    render_cameras: bool = False
    # The simulated operator's deviation trigger during deployments, (rad, s): it takes over when
    # the executed command stays this far from its shadow expert's for this long. None: the sim
    # config's (recap_bringup/config/aloha_sim.yaml).
    takeover_deviation: tuple[float, float] | None = None
    # N of the fine-tuning advantages (the labels of pi^1..pi^K); None = Monte Carlo, AlgorithmConfig's
    # default (a named deviation); --n-step 50 restores the paper's.
    finetune_n_step: int | None = AlgorithmConfig.n_step
    # Scale of the flow's starting noise for every policy the loop evaluates and deploys (π^k and the
    # baselines alike). 1 = the paper's sampler (TRAINER.md, deviation 11). Runs made at 0.5 resume with it.
    noise_scale: float = DEFAULT_NOISE_SCALE
    seed: int = 0

    def __post_init__(self) -> None:
        if self.iterations < 0 or min(self.demos, self.rollouts_per_iteration, self.eval_episodes,
                                      self.value_steps, self.policy_steps, self.train_threads) < 1:
            raise ValueError(f"loop sizes must be positive (iterations may be 0): {self}")
        if self.takeover_deviation is not None and (len(self.takeover_deviation) != 2 or min(self.takeover_deviation) <= 0):
            raise ValueError(f"takeover_deviation must be (rad > 0, seconds > 0), got {self.takeover_deviation}")
        if self.finetune_n_step is not None and self.finetune_n_step < 1:
            raise ValueError(f"finetune_n_step must be >= 1 (or None: Monte Carlo), got {self.finetune_n_step}")
        if not 0 <= self.noise_scale < float("inf"):
            raise ValueError(f"noise_scale must be a finite number >= 0 (1 = the paper's sampling), got {self.noise_scale}")

    def hash(self) -> str:
        """Identifies the run: a ledger from another configuration is not resumed. Whether baselines
        run and with how many threads do not change the finished steps, so they may change on resume."""
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("baselines", "train_threads")}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


PRESETS = {
    "quick": LoopConfig(iterations=1, demos=6, rollouts_per_iteration=2, eval_episodes=4,
                        value_steps=20, policy_steps=20, baselines=False),
    "default": LoopConfig(),
    "full": LoopConfig(baselines=True),
}
