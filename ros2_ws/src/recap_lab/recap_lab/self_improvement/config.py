"""Sizes and observations of a loop run. `quick` is exercised by the test suite; `default` is the
README's main job (espresso learnt in part in <= 30 min on 2 cores, without baselines); `full` adds
the baselines.

What the policies see (`observation`): "sim-state", the joints plus the simulator's object state
(`env_state`), which no real robot publishes: fast, for experiments on the method; or "cameras",
the joints plus camera images, as on a real robot (no privileged state anywhere in the loop).

A run's settings are its `config.json`, every field written out; a field added here defaults to what
runs did before it existed, so a run made before resumes (and serves as `--sft-from`) unchanged."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from recap_core.aloha_layout import CAMERA_NAMES
from recap_lab.seeds import run_seed_base
from recap_model.models.config import ObservationConfig
from recap_model.policy import DEFAULT_NOISE_SCALE
from recap_trainer.algorithm import POLICY_INITS, AlgorithmConfig

OBSERVATIONS = ("sim-state", "cameras")
# The camera loop's view of the scene (docs/BRINGUP.md, "The loop from cameras").
VISION_CAMERAS: tuple[str, ...] = CAMERA_NAMES
# (H, W), rendered at this size everywhere in the loop: the image model's default (docs/TRAINER.md)
VISION_IMAGE_SIZE: tuple[int, int] = ObservationConfig().image_size
# The baselines a run can add on its final data (run.py's _train_baseline).
BASELINES: tuple[str, ...] = ("bc", "filtered_bc", "awr")
# Fields that change no finished step, so they are not part of a run's identity (LoopConfig.differences).
NOT_IDENTITY: tuple[str, ...] = ("baselines", "train_threads", "value_checks")


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
    # Baselines (of BASELINES) trained on the final data, each with pi^K's policy steps: about 28
    # minutes for all three at the default size, about 30 each with cameras. They can be added to a
    # finished run (not part of its identity, NOT_IDENTITY).
    baselines: tuple[str, ...] = ()
    # Torch threads for training and evaluation, and processes generating the demonstrations, all of
    # which run while the graph is down (2 threads train the default model 1.37x faster than 1 on
    # this 2-core machine). Not part of the identity either: the data are the same for any number.
    train_threads: int = 2
    real_time_factor: float = 1.0  # the sim node's pace during deployment
    # Policies that see "sim-state" never read images: rendering three cameras at the sim node's
    # 160x120 costs ~45 ms a frame on this CPU and slows the sim below real time, so their deployments
    # skip it unless asked (the camera loop always renders, at its own small size).
    render_cameras: bool = False
    # The simulated operator's deviation trigger during deployments, (rad, s): it takes over when
    # the executed command stays this far from its shadow expert's for this long. None: the sim
    # config's (recap_bringup/config/aloha_sim.yaml).
    takeover_deviation: tuple[float, float] | None = None
    # N of the fine-tuning advantages (the labels of pi^1..pi^K); None = Monte Carlo, AlgorithmConfig's
    # default (a named deviation); --n-step 50 restores the paper's.
    finetune_n_step: int | None = AlgorithmConfig.n_step
    # Share of the deployments' steps labelled positive in fine-tuning (eps_l's percentile; the
    # paper: about 0.4, 0.1 for a slow but reliable SFT policy).
    finetune_positive_fraction: float = AlgorithmConfig.finetune_positive_fraction
    # Where pi^1..pi^K start: "pi_pre" (the paper: fine-tuned from pi_pre for half of policy_steps) or
    # "scratch" (random weights, 1.5x policy_steps: the baselines' budget); AlgorithmConfig.policy_init.
    policy_init: str = AlgorithmConfig.policy_init
    # Every policy the run trains (pi_pre, pi^k, the baselines) is saved as the moving average of its
    # weights with this decay per step (TrainConfig.ema_decay; openpi trains pi0 with 0.99); 0 = the
    # last weights. The value functions keep their last weights.
    policy_ema_decay: float = 0.0
    # Scale of the flow's starting noise for every policy the loop evaluates and deploys (π^k and the
    # baselines alike). 1 = the paper's sampler (TRAINER.md, deviation 11). Runs made at 0.5 resume with it.
    noise_scale: float = DEFAULT_NOISE_SCALE
    # "sim-state" or "cameras" (module docstring); with "cameras", `cameras` at `image_size` are
    # rendered for the demonstrations, the deployments (published on the camera topics, read by the
    # policy node, recorded) and the evaluation, and the value function and the policies read them.
    observation: str = "sim-state"
    cameras: tuple[str, ...] = ()
    image_size: tuple[int, int] = VISION_IMAGE_SIZE
    # Random-shift augmentation of the policies' images in training, up to +-pixels (pi_pre, so every
    # pi^k fine-tuned from it, and the baselines; ObservationConfig.image_shift); the value functions
    # keep the model's default. Camera runs only.
    policy_image_shift: int = ObservationConfig().image_shift
    # The SFT reference pi^0 is also reported at the sampling noise that suits it best, chosen among
    # these scales (and noise_scale) on `validation_episodes` validation episodes; () = not tuned.
    reference_noise_scales: tuple[float, ...] = ()
    validation_episodes: int = 50
    # Labels from a value function that fails its checks on held-out episodes (recap_trainer.value_checks):
    # "warn" (the default), "refuse" (stop the run before those labels are used) or "off". Not part of the
    # identity: it changes no finished step.
    value_checks: str = "warn"
    # The value functions see the time since the episode started (AlgorithmConfig.value_time_input).
    value_time_input: bool = False
    # The run's seed: demonstration and deployment scenes (recap_lab.seeds.run_seed_base) and training.
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        object.__setattr__(self, "reference_noise_scales", tuple(float(v) for v in self.reference_noise_scales))
        object.__setattr__(self, "baselines", tuple(self.baselines))
        if self.takeover_deviation is not None:  # a list when read back from config.json
            object.__setattr__(self, "takeover_deviation", tuple(float(v) for v in self.takeover_deviation))
        if any(b not in BASELINES for b in self.baselines) or len(set(self.baselines)) != len(self.baselines):
            raise ValueError(f"baselines must be distinct names of {list(BASELINES)}, got {list(self.baselines)}")
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {self.observation!r}")
        if (self.observation == "cameras") != bool(self.cameras):
            raise ValueError(f"observation {self.observation!r} and cameras {self.cameras} disagree: "
                             "cameras are given exactly when the policies see cameras")
        unknown = [c for c in self.cameras if c not in CAMERA_NAMES]
        if unknown or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be distinct names of {list(CAMERA_NAMES)}, got {list(self.cameras)}")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise ValueError(f"image_size must be (height, width), each >= 16 px, got {self.image_size}")
        if not 0 <= self.policy_image_shift < min(self.image_size):
            raise ValueError(f"policy_image_shift must be in [0, {min(self.image_size)}) pixels for images of "
                             f"{self.image_size}, got {self.policy_image_shift}")
        if any(not 0 <= s < float("inf") for s in self.reference_noise_scales) or self.validation_episodes < 1:
            raise ValueError("reference_noise_scales must be finite numbers >= 0 and validation_episodes >= 1, got "
                             f"{self.reference_noise_scales}, {self.validation_episodes}")
        run_seed_base(self.seed)  # range check
        if self.iterations < 0 or min(self.demos, self.rollouts_per_iteration, self.eval_episodes,
                                      self.value_steps, self.policy_steps, self.train_threads) < 1:
            raise ValueError(f"loop sizes must be positive (iterations may be 0): {self}")
        if self.takeover_deviation is not None and (len(self.takeover_deviation) != 2 or min(self.takeover_deviation) <= 0):
            raise ValueError(f"takeover_deviation must be (rad > 0, seconds > 0), got {self.takeover_deviation}")
        if self.finetune_n_step is not None and self.finetune_n_step < 1:
            raise ValueError(f"finetune_n_step must be >= 1 (or None: Monte Carlo), got {self.finetune_n_step}")
        if not 0 < self.finetune_positive_fraction < 1:
            raise ValueError(f"finetune_positive_fraction must be in (0, 1), got {self.finetune_positive_fraction}")
        if self.policy_init not in POLICY_INITS:
            raise ValueError(f"policy_init must be one of {POLICY_INITS}, got {self.policy_init!r}")
        if not 0 <= self.policy_ema_decay < 1:
            raise ValueError(f"policy_ema_decay must be in [0, 1) (0 = the last weights), got {self.policy_ema_decay}")
        if not 0 <= self.noise_scale < float("inf"):
            raise ValueError(f"noise_scale must be a finite number >= 0 (1 = the paper's sampling), got {self.noise_scale}")

    def differences(self, other: LoopConfig, ignored: tuple[str, ...] = NOT_IDENTITY) -> list[str]:
        """The fields (not in `ignored`) where `other` differs, as "name <self's> there, <other's> here".
        With the default `ignored`: what makes `other` another run (a work dir made with self is not
        resumed with it). Whether baselines run, with how many threads and how strictly the value
        checks hold change no finished step, so they may change on resume."""
        a, b = dataclasses.asdict(self), dataclasses.asdict(other)
        return [f"{name} {a[name]!r} there, {b[name]!r} here" for name in a
                if name not in ignored and a[name] != b[name]]


def load_run_config(run: Path) -> LoopConfig:
    """The LoopConfig a loop run directory was made with (ValueError when it is not one)."""
    try:
        return LoopConfig(**json.loads((run / "config.json").read_text()))
    except (OSError, json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"{run}: not a loop run directory of this version (config.json: {error})") from None


PRESETS = {
    "quick": LoopConfig(iterations=1, demos=6, rollouts_per_iteration=2, eval_episodes=4,
                        value_steps=20, policy_steps=20, baselines=()),
    "default": LoopConfig(),
    "full": LoopConfig(baselines=BASELINES),
}


def preset(size: str, observation: str = "sim-state") -> LoopConfig:
    """The sizes of `size` for policies that see `observation`. The camera loop renders VISION_CAMERAS
    at VISION_IMAGE_SIZE and reports its SFT reference also at the noise that suits it best."""
    cfg = PRESETS[size]
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
    if observation == "cameras":
        tuned = () if size == "quick" else (0.5, 1.0)
        cfg = dataclasses.replace(cfg, observation="cameras", cameras=VISION_CAMERAS,
                                  reference_noise_scales=tuned,
                                  validation_episodes=min(cfg.validation_episodes, cfg.eval_episodes))
    return cfg
