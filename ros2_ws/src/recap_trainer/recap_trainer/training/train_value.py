"""Train the distributional value function V (Eq. 1) on normalised empirical returns, holding out
a few episodes on which the value checks (value_checks.py) score it."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from recap_model.checkpoint import load_checkpoint, save_checkpoint
from recap_model.models.config import ValueConfig
from recap_model.models.value_model import ValueModel, elapsed_fraction
from recap_core.output_files import write_json_atomic
from recap_model.normalization import NormStats
from recap_trainer.normalization import compute_stats
from recap_trainer.rewards import RewardConfig, episode_returns
from recap_trainer.training.common import (
    check_fits, check_same_robot, gather_observations, observation_config_for, optimizer_and_resume,
)
from recap_trainer.training.episodes import EpisodeCatalog, StepSampler
from recap_trainer.training.run import (
    BatchSource, TrainConfig, TrainerState, is_main_process, run_training, save_loss_curve,
)
from recap_trainer.value_check_plot import plot_value_checks
from recap_trainer.value_checks import EpisodeValues, ValueCheckConfig, ValueCheckReport, check_values
from recap_trainer.value_holdout import Holdout, HoldoutConfig, choose_holdout

log = logging.getLogger("recap.train_value")
VALUE_CHECKS_JSON, VALUE_CHECKS_PNG = "value_checks.json", "value_checks.png"


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
        if self.config.sees_time:
            batch["elapsed"] = elapsed_fraction(self.config, batch["task_id"].numpy(), steps)
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
    holdout: HoldoutConfig | None = None,
    checks: ValueCheckConfig = ValueCheckConfig(),
    time_input: bool = False,
) -> Path:
    """Train V on `catalog` less the held-out episodes (`holdout`, default: 10 % chosen with
    train.seed), then score it on those (on the training episodes when none are held out): writes
    value_checks.json and value_checks.png next to the checkpoint. `time_input`: V sees the steps
    since the episode started as a fraction of its task's L (ValueConfig.time_limits). `init_from` =
    fine-tune from that checkpoint (V_pre), keeping its model config, normalisation stats and reward
    config. Returns the checkpoint directory."""
    out_dir = Path(out_dir)
    holdout = holdout or HoldoutConfig(seed=train.seed)
    torch.manual_seed(train.seed)
    if init_from is not None:
        base = load_checkpoint(init_from, "value")
        model, stats, config = base.model, base.stats, base.config
        rewards = extend_rewards(RewardConfig.from_dict(base.training["rewards"]), catalog)
        check_same_robot(catalog, base)
        check_fits(catalog, config.observation, stats=stats)
    else:
        obs = observation_config_for(catalog, cameras, **{"width": ValueConfig().observation.width, **(model_sizes or {})})
        rewards = rewards or RewardConfig.from_episodes(catalog)
        limits = tuple(rewards.for_task(task).max_episode_length for task in obs.tasks) if time_input else ()
        config = ValueConfig(observation=obs, time_limits=limits)
        model, stats = ValueModel(config), compute_stats(catalog)
    targets = episode_return_targets(catalog, rewards)
    held = choose_holdout([(catalog.summaries[k].episode_id, catalog.summaries[k].outcome) for k in targets], holdout)
    if resume:
        _check_same_holdout(out_dir, held)
    if is_main_process():  # a holdout asked for and not possible is worth a warning
        log.log(logging.WARNING if holdout.fraction and not held.episodes else logging.INFO, "%s", held.reason)
    held_ids = set(held.episodes)
    training_targets = {k: r for k, r in targets.items() if catalog.summaries[k].episode_id not in held_ids}
    optimizer, scheduler, state, average = optimizer_and_resume(out_dir, "value", config, model, train, resume)
    training_info = {"train_config": asdict(train), "rewards": rewards.to_dict(),
                     "init_from": str(init_from) if init_from else None,
                     "episodes": len(training_targets), "holdout": {**asdict(holdout), **held.to_dict()}}

    def save(st: TrainerState) -> None:
        if is_main_process():
            save_checkpoint(out_dir, "value", average.module if average else model, stats, catalog.robot.identity(),
                            metadata={"tasks": list(config.observation.tasks)},
                            training={**training_info, "steps_done": st.step}, optimizer=optimizer,
                            trainer_state=st.to_json(), training_weights=model if average else None)

    state = run_training(ValueLoss(model), ValueBatches(catalog, config, stats, training_targets), train, optimizer,
                         scheduler, state=state, desc="value", on_checkpoint=save,
                         checkpoint_every=max(train.steps // 5, 1), average=average)
    save(state)
    model = (average.module if average else model).cpu()  # the checkpoint's model; checks run on the CPU
    if is_main_process():
        save_loss_curve(state.losses, out_dir / "loss.png", "value function: cross-entropy to return bins")
        scored = sorted(set(targets) - set(training_targets)) if held_ids else sorted(training_targets)
        episodes = score_episodes(model, stats, catalog, scored, targets)
        report = check_values(episodes, "held-out" if held_ids else "training", checks)
        write_json_atomic(out_dir / VALUE_CHECKS_JSON, report.to_dict())
        plot_value_checks(report, episodes, out_dir / VALUE_CHECKS_PNG, title=f"value function {out_dir}")
        log.info("%s", report.summary())
    return out_dir


def _check_same_holdout(out_dir: Path, held: Holdout) -> None:
    """A resumed run must train on the episodes the interrupted one trained on."""
    try:
        saved = json.loads((out_dir / "config.json").read_text())["training"]["holdout"]["episodes"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no checkpoint yet, or one the resume itself will refuse with a clearer message
    if saved != list(held.episodes):
        raise ValueError(f"--resume: {out_dir} held out {len(saved)} episode(s) ({', '.join(saved[:3]) or 'none'}), "
                         f"this run would hold out {len(held.episodes)} ({', '.join(held.episodes[:3]) or 'none'}); "
                         "resume with the interrupted run's --holdout-fraction and --seed")


def load_value_checks(value_dir: str | Path) -> ValueCheckReport:
    return ValueCheckReport.from_dict(json.loads((Path(value_dir) / VALUE_CHECKS_JSON).read_text()))


def score_episodes(model: ValueModel, stats: NormStats, catalog: EpisodeCatalog, indices: list[int],
                   returns: dict[int, np.ndarray]) -> list[EpisodeValues]:
    """V(o_t) and the realised return of the episodes at catalog `indices`."""
    out = []
    for k in indices:
        ep = catalog.episode(k)
        out.append(EpisodeValues(ep.episode_id, ep.outcome, predict_values(model, stats, ep),
                                 returns[k].astype(np.float64), np.asarray(ep.timestamps, np.float64)))
    return out


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
        if model.config.sees_time:
            batch["elapsed"] = elapsed_fraction(model.config, batch["task_id"].numpy(), np.arange(start, start + len(batch["task_id"])))
        out.append(model.expected_value(model(batch)).numpy())
    return np.concatenate(out).astype(np.float64)
