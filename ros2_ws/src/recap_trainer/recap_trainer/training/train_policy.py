"""Train the advantage-conditioned policy (RECAP, Eq. 3) and the baselines in the same code.

Methods (same data, model and budget):
  "recap":       flow-matching loss conditioned on I_t from the labels; the indicator is DROPPED
                 with probability 0.3, so one network learns pi(a | I, o, l) and pi(a | o, l).
  "bc":          plain behaviour cloning on every (non-aborted) episode; indicator always DROPPED.
  "filtered_bc": BC on successful episodes only.
  "awr":         advantage-weighted regression with the same labels' advantages: per-sample weights
                 exp(A_t / tau) clipped at `awr_max_weight`, tau = awr_temperature * std(A) over
                 the training data (a scale-free temperature); indicator always DROPPED.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from recap_model.action_frame import to_model_frame
from recap_model.checkpoint import load_checkpoint, save_checkpoint
from recap_core.config_errors import check_field
from recap_trainer.labels import Labels
from recap_model.models.config import PolicyConfig
from recap_model.models.encoders import DROPPED, NEGATIVE, POSITIVE
from recap_model.models.flow_matching import sample_tau
from recap_model.models.policy_model import PolicyModel
from recap_model.normalization import NormStats
from recap_trainer.normalization import compute_stats
from recap_trainer.training.common import (
    check_fits, check_same_robot, gather_actions, gather_observations, observation_config_for, optimizer_and_resume,
)
from recap_trainer.training.episodes import EpisodeCatalog, StepSampler
from recap_trainer.training.run import (
    BatchSource, TrainConfig, TrainerState, is_main_process, run_training, save_loss_curve,
)

METHODS = ("recap", "bc", "filtered_bc", "awr")


@dataclass(frozen=True)
class PolicyTrainConfig:
    method: str = "recap"
    indicator_dropout: float = 0.3  # P(I_t is dropped) in RECAP training
    awr_temperature: float = 1.0  # tau in units of std(A)
    awr_max_weight: float = 20.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_field(self.method in METHODS, name, "method", f"must be one of {METHODS}", self.method)
        check_field(0.0 <= self.indicator_dropout < 1.0, name, "indicator_dropout", "must be in [0, 1)",
                    self.indicator_dropout)
        check_field(self.awr_temperature > 0, name, "awr_temperature", "must be > 0", self.awr_temperature)
        check_field(self.awr_max_weight >= 1, name, "awr_max_weight", "must be >= 1", self.awr_max_weight)

    @property
    def needs_labels(self) -> bool:
        return self.method in ("recap", "awr")


class PolicyLoss(nn.Module):
    """DDP needs the loss behind forward(): the flow-matching loss of Eq. 3."""

    def __init__(self, model: PolicyModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict, noise: torch.Tensor, tau: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        return self.model.loss(batch, noise, tau, weights)


class PolicyBatches(BatchSource):
    """(o_t, a_{t:t+H}, I_t) samples; noise eps (B, H, D), tau (B,), dropout from the global draw."""

    def __init__(self, catalog: EpisodeCatalog, episodes: np.ndarray, config: PolicyConfig, stats: NormStats,
                 method: PolicyTrainConfig, labels: Labels | None):
        self.catalog, self.config, self.stats, self.method, self.labels = catalog, config, stats, method, labels
        self.sampler = StepSampler(catalog, episodes)
        self.awr_tau = None
        if method.method == "awr":
            adv = np.concatenate([labels.advantage[catalog.summaries[k].episode_id] for k in episodes])
            self.awr_tau = method.awr_temperature * max(float(adv.std()), 1e-6)

    def __call__(self, rng: np.random.Generator, gen: torch.Generator, size: int, part: slice) -> dict:
        c = self.config
        episodes, steps = self.sampler.sample(rng, size)
        noise = torch.randn(size, c.horizon, c.action_dim, generator=gen)
        tau = sample_tau(size, gen)
        drop = torch.rand(size, generator=gen) < self.method.indicator_dropout
        ids = [self.catalog.summaries[k].episode_id for k in episodes.tolist()]
        indicator = torch.full((size,), DROPPED, dtype=torch.long)
        weights = None
        if self.method.method == "recap":
            flags = torch.tensor([bool(self.labels.indicator[e][t]) for e, t in zip(ids, steps.tolist())])
            indicator = torch.where(flags, POSITIVE, NEGATIVE)
            indicator[drop] = DROPPED
        elif self.method.method == "awr":
            adv = np.array([self.labels.advantage[e][t] for e, t in zip(ids, steps.tolist())], np.float64)
            w = np.minimum(np.exp(adv / self.awr_tau), self.method.awr_max_weight)
            weights = torch.tensor(w / w.mean(), dtype=torch.float32)[part]  # global-batch normalised
        episodes, steps = episodes[part], steps[part]
        batch = gather_observations(self.catalog, c.observation, self.stats, episodes, steps)
        actions, qpos = gather_actions(self.catalog, episodes, steps, c.horizon, c.action_dim)
        actions = to_model_frame(actions, qpos, c.relative_dims)
        batch["actions"] = torch.from_numpy(self.stats.normalize("action", actions))
        batch["indicator"] = indicator[part]
        return {"batch": batch, "noise": noise[part], "tau": tau[part], "weights": weights}


def training_episodes(catalog: EpisodeCatalog, method: PolicyTrainConfig, labels: Labels | None) -> np.ndarray:
    if method.needs_labels:
        if labels is None:
            raise ValueError(f"method {method.method!r} needs advantage labels (run `recap label`)")
        for s in catalog.summaries:
            if s.outcome != "abort" and s.episode_id not in labels.indicator:
                raise ValueError(f"episode {s.episode_id}: no labels for it; relabel the dataset with the current value function")
            if s.episode_id in labels.indicator and len(labels.indicator[s.episode_id]) != s.num_steps:
                raise ValueError(f"episode {s.episode_id}: labels have {len(labels.indicator[s.episode_id])} steps, the episode {s.num_steps}")
        keep = lambda s: s.episode_id in labels.indicator  # noqa: E731
    elif method.method == "filtered_bc":
        keep = lambda s: s.outcome == "success"  # noqa: E731
    else:
        keep = lambda s: s.outcome != "abort"  # noqa: E731
    return catalog.select(keep)


def train_policy(
    catalog: EpisodeCatalog,
    out_dir: str | Path,
    train: TrainConfig = TrainConfig(),
    method: PolicyTrainConfig = PolicyTrainConfig(),
    labels: Labels | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    model_sizes: dict | None = None,
    policy_sizes: dict | None = None,
    cameras: tuple[str, ...] = (),
    metadata: dict | None = None,
) -> Path:
    """Train pi on `catalog`; `init_from` = fine-tune from that checkpoint (pi_pre), keeping its
    model config and normalisation stats (and its robot: the data's must be the same). D comes from
    the catalog's robot; the checkpoint carries its robot block. Returns the checkpoint directory."""
    out_dir = Path(out_dir)
    torch.manual_seed(train.seed)
    if init_from is not None:
        base = load_checkpoint(init_from, "policy")
        model, stats, config = base.model, base.stats, base.config
        check_same_robot(catalog, base)
        check_fits(catalog, config.observation, config.action_dim, stats)
    else:
        config = PolicyConfig(observation=observation_config_for(catalog, cameras, **(model_sizes or {})),
                              action_dim=catalog.robot.action_dim, **(policy_sizes or {}))
        check_fits(catalog, config.observation, config.action_dim)
        model, stats = PolicyModel(config), compute_stats(catalog, config.horizon, config.relative_dims)
    episodes = training_episodes(catalog, method, labels)
    optimizer, scheduler, state, average = optimizer_and_resume(out_dir, "policy", config, model, train, resume)
    meta = policy_metadata(catalog, config, method, metadata)
    training_info = {"train_config": asdict(train), "method": asdict(method),
                     "init_from": str(init_from) if init_from else None, "episodes": int(len(episodes)),
                     "labels": labels.info if labels is not None else None}

    def save(st: TrainerState) -> None:
        if is_main_process():
            save_checkpoint(out_dir, "policy", average.module if average else model, stats, catalog.robot.identity(),
                            metadata=meta, training={**training_info, "steps_done": st.step}, optimizer=optimizer,
                            trainer_state=st.to_json(), training_weights=model if average else None)

    batches = PolicyBatches(catalog, episodes, config, stats, method, labels)
    state = run_training(PolicyLoss(model), batches, train, optimizer, scheduler, state=state,
                         desc=f"policy ({method.method})", on_checkpoint=save, checkpoint_every=max(train.steps // 5, 1),
                         average=average)
    save(state)
    model.cpu()  # callers (labelling, inference) use the model on the CPU
    if is_main_process():
        save_loss_curve(state.losses, out_dir / "loss.png", f"policy ({method.method}): flow-matching loss")
    return out_dir


def policy_metadata(catalog: EpisodeCatalog, config: PolicyConfig, method: PolicyTrainConfig, extra: dict | None) -> dict:
    """What a policy node needs to know before it feeds the policy (INTERFACES.md)."""
    ep = catalog.episode(0)
    stamps = np.asarray(ep.timestamps)
    period = float(np.median(np.diff(stamps))) if len(stamps) > 1 else 0.02
    task_state_names = {}
    if config.observation.state_dim:
        for k, s in enumerate(catalog.summaries):
            if s.task not in task_state_names:
                names = (catalog.episode(k).metadata or {}).get("state_names")
                task_state_names[s.task] = list(names) if names else [f"state_{i}" for i in range(s.state_dim)]
    meta = {
        "control_period": round(period, 6),
        "state_names": task_state_names.get(ep.task, []),  # of the first task; all in task_state_names
        "task_state_names": task_state_names,
        "method": method.method,
        "advantage_conditioned": method.method == "recap",
    }
    meta.update(extra or {})
    return meta
