"""Algorithm 1 of RECAP: pre-train, then iterate (collect -> V^k -> labels -> pi^k).

  V_pre  <- train value on D_demo;  pi_pre <- train policy on D_demo with V_pre   ("pretrain")
  V^0 <- fine-tune V_pre on D;       pi^0 <- fine-tune pi_pre on D with V^0       ("sft", k = 0)
  for k = 1..K: collect rollouts with pi^{k-1} into D;
      V^k  <- fine-tune from V_pre  on all of D    (from the PRE-TRAINED weights, not V^{k-1})
      pi^k <- fine-tune from pi_pre on all of D with V^k labels ("finetune")

Work directory layout: pretrained/{value,labels,policy}, iter_<k>/{value,labels,policy}. Each V holds
out a few episodes (value_holdout.py) and is checked on them before its labels are used
(value_checks.py: value/value_checks.{json,png}, and labels.json's "value_checks").
Collecting rollouts (the sim, or a real robot with the recorder + converter) is outside this module:
`recap iterate` is called again after each collection, and the lab's loop (recap_lab) drives all of
it through the ROS graph.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from recap_model.checkpoint import load_checkpoint
from recap_core.config_errors import check_field, check_task_names
from recap_trainer.label_breakdown import (format_breakdown, format_phases, label_breakdown, phase_breakdown,
                                          thin_end)
from recap_trainer.label_checks import apply_check_mode, check_labels, labelled_episode
from recap_trainer.labels import LabelConfig, Labels, compute_labels
from recap_trainer.rewards import RewardConfig
from recap_trainer.training.common import check_same_robot
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig
from recap_trainer.training.train_policy import PolicyTrainConfig, train_policy
from recap_trainer.training.train_value import predict_values, train_value
from recap_trainer.value_checks import CHECK_MODES, ValueCheckConfig
from recap_trainer.value_holdout import DEFAULT_HOLDOUT_FRACTION, HoldoutConfig

log = logging.getLogger("recap.algorithm")
POLICY_INITS = ("pi_pre", "scratch")  # AlgorithmConfig.policy_init


@dataclass(frozen=True)
class AlgorithmConfig:
    """The defaults are the product's: what `recap iterate` and the lab's loop (`make run`) train with,
    the sizes at which espresso is learnt in part (docs/BRINGUP.md)."""

    pretrain_value: TrainConfig = TrainConfig(steps=3000)
    # 11 000 keeps `make run` within 30 min on 2 cores (12 000 took 30.3 min); 10 000 gives a clearly
    # weaker pi^0; at 2000 no espresso policy passed 1 %.
    pretrain_policy: TrainConfig = TrainConfig(steps=11000)
    finetune_value: TrainConfig = TrainConfig(steps=1500)  # each fine-tune: half the pre-training's steps
    finetune_policy: TrainConfig = TrainConfig(steps=5500)
    policy: PolicyTrainConfig = PolicyTrainConfig()
    # N of the fine-tuning advantages (the labels of pi^1..pi^K); None = Monte Carlo, A_t = R_t - V(o_t).
    # The paper uses N = 50, which charges a failure only to the last second before it: on espresso
    # a policy that tips the cup early was labelled positive for most of the approach. Monte Carlo
    # labels charge it to every step of the failed episode; with them the loop's pi^2 fails less
    # than pi^0 (docs/BRINGUP.md): a named deviation. n_step=50 restores the paper's.
    n_step: int | None = None
    pretrain_positive_fraction: float = 0.3
    finetune_positive_fraction: float = 0.4
    task_positive_fraction: Mapping[str, float] = field(default_factory=dict)  # fine-tuning, per task
    max_episode_length: Mapping[str, int] = field(default_factory=dict)
    c_fail: Mapping[str, float] = field(default_factory=dict)
    takeover_split: str = "first"
    cameras: tuple[str, ...] = ()
    model_sizes: Mapping | None = None  # ObservationConfig size overrides of the policy
    policy_sizes: Mapping | None = None  # PolicyConfig overrides (horizon, flow_width, ...)
    # share of episodes each value function does not train on, so that its checks score unseen ones
    value_holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
    value_checks: str = "warn"  # labels from a V that fails its checks: "warn", "refuse" (raise), "off"
    # V_pre (and so every V^k) sees the time since the episode started (ValueConfig.time_limits):
    # docs/TRAINER.md "The value function sees the time". Off (the paper's V(o_t, l)) until a policy
    # trained on its labels is shown to do better over several seeds.
    value_time_input: bool = False
    # Where pi^1..pi^K start (POLICY_INITS): "pi_pre", the paper's, fine-tuned from pi_pre for
    # finetune_policy.steps; or "scratch", random weights trained for the whole policy budget
    # (scratch_policy(): pi_pre's steps plus the fine-tuning's, the baselines' budget). Why: pi_pre
    # is the paper's broad pre-trained model; here it is trained on the same demonstrations,
    # conditioned on their fastest 30 % of steps, and a short fine-tuning keeps its haste on images
    # (docs/BRINGUP.md, "Why filtered BC is ahead"). pi^0 (SFT) is fine-tuned from pi_pre either way.
    policy_init: str = "pi_pre"

    @classmethod
    def from_pretraining(cls, value_training: TrainConfig, policy_training: TrainConfig, **fields) -> AlgorithmConfig:
        """V_pre trained with `value_training`, pi_pre with `policy_training`; each fine-tune the same
        with half the steps."""
        return cls(pretrain_value=value_training, pretrain_policy=policy_training,
                   finetune_value=replace(value_training, steps=max(1, value_training.steps // 2)),
                   finetune_policy=replace(policy_training, steps=max(1, policy_training.steps // 2)), **fields)

    def __post_init__(self) -> None:
        # checked now, not after an hour of value training when the labels are made
        self.pretrain_labels()
        self.finetune_labels(1)
        self.holdout()
        check_field(self.value_checks in CHECK_MODES, type(self).__name__, "value_checks",
                    f"must be one of {CHECK_MODES}", self.value_checks)
        check_field(self.policy_init in POLICY_INITS, type(self).__name__, "policy_init",
                    f"must be one of {POLICY_INITS}", self.policy_init)

    def holdout(self) -> HoldoutConfig:
        """The same episodes are held out from V_pre and every V^k (one seed): see value_holdout.py."""
        return HoldoutConfig(fraction=self.value_holdout_fraction, seed=self.pretrain_value.seed)

    def policy_model(self) -> dict:
        """train_policy's arguments that fix the policy's model (inputs and sizes): pi_pre's, and any
        baseline's that is to be compared with it on the same data."""
        return dict(cameras=self.cameras, model_sizes=dict(self.model_sizes or {}),
                    policy_sizes=dict(self.policy_sizes or {}))

    def scratch_policy(self) -> TrainConfig:
        """A policy trained from random weights for pi_pre's steps plus a fine-tuning's: the baselines,
        and pi^k under policy_init "scratch"."""
        return replace(self.pretrain_policy, steps=self.pretrain_policy.steps + self.finetune_policy.steps)

    def pretrain_labels(self) -> LabelConfig:
        """Monte Carlo advantages on the demonstrations."""
        return LabelConfig(stage="pretrain", n_step=None, positive_fraction=self.pretrain_positive_fraction)

    def finetune_labels(self, k: int) -> LabelConfig:
        """Iteration k's labels: the SFT stage at k = 0 (demos forced positive), then fine-tuning."""
        return LabelConfig(stage="sft" if k == 0 else "finetune", n_step=self.n_step,
                           positive_fraction=self.finetune_positive_fraction,
                           task_positive_fraction=dict(self.task_positive_fraction))


def label_with_value(catalog: EpisodeCatalog, value_dir: str | Path, config: LabelConfig, checks: str = "warn",
                     check_config: ValueCheckConfig = ValueCheckConfig()) -> Labels:
    """Labels from the value checkpoint's V and its reward config (so both use the same L, C_fail),
    with the value checks on the episodes the checkpoint held out (`checks`: label_checks.py)."""
    check_field(checks in CHECK_MODES, "label_with_value", "checks", f"must be one of {CHECK_MODES}", checks)
    check_task_names("LabelConfig", "task_positive_fraction", config.task_positive_fraction, catalog.tasks())
    ckpt = load_checkpoint(value_dir, "value")
    check_same_robot(catalog, ckpt)
    rewards = RewardConfig.from_dict(ckpt.training["rewards"])
    seen = {}  # what the checks need of each episode, recorded as it is labelled (one pass over the data)

    def values(ep):
        seen[ep.episode_id] = labelled_episode(ep)
        return predict_values(ckpt.model, ckpt.stats, ep)

    labels = compute_labels(catalog, values, rewards, config)
    labels.info["value_checkpoint"] = str(value_dir)
    phases = phase_breakdown(labels, catalog.summaries)
    log.info("%s labels, positive fraction by source and outcome:\n%s\n%s", config.stage,
             format_breakdown(label_breakdown(labels, catalog.summaries)), format_phases(phases))
    thin = thin_end(phases)
    if thin:
        log.warning("%s labels: %s", config.stage, thin)
    if checks != "off":
        held_out = ckpt.training.get("holdout", {}).get("episodes", [])
        report = check_labels(labels, catalog.summaries, seen, held_out, check_config)
        labels.info["value_checks"] = report.to_dict()
        log.info("%s", report.summary())
        apply_check_mode(report, checks, str(value_dir))
    return labels


def pretrain(demos: EpisodeCatalog, work_dir: str | Path, cfg: AlgorithmConfig, resume: bool = False) -> Path:
    """V_pre and pi_pre on demonstrations (Monte Carlo advantages, ~30% positive). `resume`: a
    checkpoint an interrupted call left is continued from its last save (finished ones train no
    further), not trained again from random weights."""
    out = Path(work_dir) / "pretrained"
    rewards = RewardConfig.from_episodes(demos, cfg.max_episode_length, cfg.c_fail, cfg.takeover_split)
    train_value(demos, out / "value", cfg.pretrain_value, rewards, resume=resume, cameras=cfg.cameras,
                holdout=cfg.holdout(), time_input=cfg.value_time_input)
    labels = None
    if cfg.policy.needs_labels:
        labels = label_with_value(demos, out / "value", cfg.pretrain_labels(), cfg.value_checks)
        labels.save(out / "labels")
    train_policy(demos, out / "policy", cfg.pretrain_policy, cfg.policy, labels, resume=resume, **cfg.policy_model())
    return out


def iterate(data: EpisodeCatalog, work_dir: str | Path, k: int, cfg: AlgorithmConfig, resume: bool = False) -> Path:
    """V^k and pi^k fine-tuned FROM THE PRE-TRAINED checkpoints on all data so far (pi^k for k >= 1
    from random weights under policy_init "scratch"). `resume`: as for pretrain()."""
    work_dir = Path(work_dir)
    pre, out = work_dir / "pretrained", work_dir / f"iter_{k}"
    if not (pre / "policy" / "config.json").is_file():
        raise FileNotFoundError(f"{pre}: no pre-trained checkpoints; run the pre-training first")
    check_task_names("LabelConfig", "task_positive_fraction", cfg.task_positive_fraction, data.tasks())
    train_value(data, out / "value", cfg.finetune_value, init_from=pre / "value", resume=resume, holdout=cfg.holdout())
    labels = None
    if cfg.policy.needs_labels:
        labels = label_with_value(data, out / "value", cfg.finetune_labels(k), cfg.value_checks)
        labels.save(out / "labels")
    if k >= 1 and cfg.policy_init == "scratch":
        train_policy(data, out / "policy", cfg.scratch_policy(), cfg.policy, labels, resume=resume,
                     **cfg.policy_model())
    else:
        train_policy(data, out / "policy", cfg.finetune_policy, cfg.policy, labels, init_from=pre / "policy",
                     resume=resume)
    return out / "policy"
