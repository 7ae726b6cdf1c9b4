"""Train the distributional value function V (Eq. 1) on normalised empirical returns."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from recap_model.checkpoint import load_checkpoint, save_checkpoint
from recap_model.models.config import ValueConfig
from recap_model.models.value_model import ValueModel
from recap_model.normalization import NormStats
from recap_trainer.normalization import compute_stats
from recap_trainer.rewards import RewardConfig, episode_returns
from recap_trainer.training.common import check_fits, gather_observations, observation_config_for, optimizer_and_resume
from recap_trainer.training.episodes import EpisodeCatalog, StepSampler
from recap_trainer.training.run import (
    BatchSource, TrainConfig, TrainerState, is_main_process, run_training, save_loss_curve,
)


class ValueLoss(nn.Module):
    """DDP needs the loss behind forward(): cross-entropy to the return bins R_t^B."""

    def __init__(self, model: ValueModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model.loss(batch)


class ValueBatches(BatchSource):
    def __init__(self, catalog: EpisodeCatalog, model_config: ValueConfig, stats: NormStats, returns: dict[int, np.ndarray]):
        self.catalog, self.config, self.stats, self.returns = catalog, model_config, stats, returns
        self.sampler = StepSampler(catalog, np.array(sorted(returns), dtype=np.int64))

    def __call__(self, rng: np.random.Generator, gen: torch.Generator, size: int, part: slice) -> dict:
        episodes, steps = self.sampler.sample(rng, size)
        episodes, steps = episodes[part], steps[part]
        batch = gather_observations(self.catalog, self.config.observation, self.stats, episodes, steps)
        batch["returns"] = torch.tensor([self.returns[k][t] for k, t in zip(episodes.tolist(), steps.tolist())])
        return {"batch": batch}


def extend_rewards(base: RewardConfig, catalog: EpisodeCatalog) -> RewardConfig:
    """Fine-tuning data (slow rollouts) may be longer than the pre-training demos: L per task
    becomes the larger of V_pre's and the new data's; a C_fail that defaulted to L follows it."""
    fresh = RewardConfig.from_episodes(catalog, takeover_split=base.takeover_split)
    tasks = dict(base.tasks)
    for task, new in fresh.tasks.items():
        old = tasks.get(task)
        if old is None:
            tasks[task] = new
        elif new.max_episode_length > old.max_episode_length:
            c_fail = new.max_episode_length if old.c_fail == old.max_episode_length else old.c_fail
            tasks[task] = type(old)(new.max_episode_length, float(c_fail))
    return RewardConfig(tasks=tasks, takeover_split=base.takeover_split)


def episode_return_targets(catalog: EpisodeCatalog, rewards: RewardConfig) -> dict[int, np.ndarray]:
    """Normalised R_t (T,) per catalog index; aborted episodes are left out."""
    targets = {}
    for k, s in enumerate(catalog.summaries):
        if s.outcome == "abort":
            continue
        ep = catalog.episode(k)
        targets[k] = episode_returns(
            s.episode_id, s.num_steps, s.outcome, np.asarray(ep.intervention, bool),
            rewards.for_task(s.task, s.episode_id), rewards.takeover_split,
        ).returns.astype(np.float32)
    if not targets:
        raise ValueError("no episode with a success/failure outcome to train the value function on")
    return targets


def train_value(
    catalog: EpisodeCatalog,
    out_dir: str | Path,
    train: TrainConfig = TrainConfig(),
    rewards: RewardConfig | None = None,
    init_from: str | Path | None = None,
    resume: bool = False,
    model_sizes: dict | None = None,
    cameras: tuple[str, ...] = (),
) -> Path:
    """Train V on `catalog`; `init_from` = fine-tune from that checkpoint (V_pre), keeping its
    model config, normalisation stats and reward config. Returns the checkpoint directory."""
    out_dir = Path(out_dir)
    torch.manual_seed(train.seed)
    if init_from is not None:
        base = load_checkpoint(init_from, "value")
        model, stats, config = base.model, base.stats, base.config
        rewards = extend_rewards(RewardConfig.from_dict(base.training["rewards"]), catalog)
        check_fits(catalog, config.observation, stats=stats)
    else:
        obs = observation_config_for(catalog, cameras, **(model_sizes or {"width": 128, "image_channels": (16, 32, 32, 32)}))
        config = ValueConfig(observation=obs)
        model, stats = ValueModel(config), compute_stats(catalog)
        rewards = rewards or RewardConfig.from_episodes(catalog)
    targets = episode_return_targets(catalog, rewards)
    optimizer, scheduler, state = optimizer_and_resume(out_dir, "value", config, model, train, resume)
    training_info = {"train_config": asdict(train), "rewards": rewards.to_dict(),
                     "init_from": str(init_from) if init_from else None,
                     "episodes": len(targets)}

    def save(st: TrainerState) -> None:
        if is_main_process():
            save_checkpoint(out_dir, "value", model, stats, metadata={"tasks": list(config.observation.tasks)},
                            training={**training_info, "steps_done": st.step}, optimizer=optimizer,
                            trainer_state=st.to_json())

    state = run_training(ValueLoss(model), ValueBatches(catalog, config, stats, targets), train, optimizer, scheduler,
                         state=state, desc="value", on_checkpoint=save, checkpoint_every=max(train.steps // 5, 1))
    save(state)
    model.cpu()  # callers (labelling, inference) use the model on the CPU
    if is_main_process():
        save_loss_curve(state.losses, out_dir / "loss.png", "value function: cross-entropy to return bins")
    return out_dir


@torch.no_grad()
def predict_values(model: ValueModel, stats: NormStats, episode, batch_size: int = 512) -> np.ndarray:
    """V(o_t) for every step of one episode: (T,)."""
    config = model.config.observation
    model.eval()
    task_id = config.task_id(episode.task)
    from recap_model.features import observation_tensors

    out = []
    for start in range(0, len(episode.timestamps), batch_size):
        sl = slice(start, start + batch_size)
        batch = observation_tensors(
            config, stats, episode.qpos[sl], None if episode.env_state is None else episode.env_state[sl],
            {c: episode.images[c][sl] for c in config.cameras}, np.full(len(episode.qpos[sl]), task_id),
            where=f"episode {episode.episode_id}",
        )
        out.append(model.expected_value(model(batch)).numpy())
    return np.concatenate(out).astype(np.float64)
