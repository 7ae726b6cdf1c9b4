"""Training data path benchmark: how long assembling one policy batch takes, next to a train step.

    python bench/bench_batches.py [--episodes 600] [--steps 320] [--threads 2]

Writes a synthetic state-only dataset shaped like the espresso demonstrations (600 episodes of
~320 steps, 15-D object state) and measures, in the same run:
  - batch assembly (sample 64 steps, read o_t and a_{t:t+H}, normalise) with the catalog's default
    byte-bounded cache, which holds the whole state-only dataset;
  - the same with the cache off (every sampled episode reopened from its file), which is what a
    count-bounded cache of 64 episodes amounted to once a dataset had many more episodes than that;
  - baseline: one train step (forward + backward + AdamW) of the default state-only policy.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench_policy_model import batch, timed  # same synthetic batch and timing loop as the model bench
from recap_trainer.dataset import DatasetWriter, RecapDataset
from recap_trainer.episode import EpisodeData
from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_trainer.normalization import compute_stats
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig, make_optimizer, train_step
from recap_trainer.training.train_policy import PolicyBatches, PolicyLoss, PolicyTrainConfig

STATE_DIM, BATCH = 15, 64


def synthetic_dataset(directory: Path, episodes: int, steps: int) -> None:
    writer = DatasetWriter(directory)
    rng = np.random.default_rng(0)
    for i in range(episodes):
        n = int(steps * rng.uniform(0.5, 1.5))
        qpos = np.cumsum(rng.normal(0, 0.01, (n, 14)), axis=0)
        writer.append(EpisodeData(
            episode_id=f"bench-{i:05d}", task="espresso", outcome="success", source="demo", iteration=0,
            timestamps=np.arange(n) * 0.02, qpos=qpos, env_state=rng.normal(size=(n, STATE_DIM)), images={},
            executed_action=qpos + 0.01, proposed_action=np.full((n, 14), np.nan),
            intervention=np.zeros(n, bool)))


def batch_seconds(catalog: EpisodeCatalog, config: PolicyConfig, repeats: int) -> np.ndarray:
    stats = compute_stats(catalog, config.horizon, config.relative_dims)
    batches = PolicyBatches(catalog, np.arange(len(catalog)), config, stats, PolicyTrainConfig("bc"), None)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    for _ in range(len(catalog) // BATCH * 4):  # warm-up: touches (almost) every episode once
        batches(rng, gen, BATCH, slice(None))
    return timed(lambda: batches(rng, gen, BATCH, slice(None)), repeats)


def train_step_seconds(config: PolicyConfig, repeats: int) -> np.ndarray:
    torch.manual_seed(0)
    model = PolicyModel(config)
    loss, (optimizer, _) = PolicyLoss(model), make_optimizer(model, TrainConfig())
    b = batch(config, BATCH)
    kw = {"batch": b, "noise": torch.randn_like(b["actions"]), "tau": torch.rand(BATCH), "weights": None}
    return timed(lambda: train_step(loss, optimizer, kw, 1.0), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--steps", type=int, default=320, help="mean episode length")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({args.threads} threads), Python {platform.python_version()}")
    config = PolicyConfig(observation=ObservationConfig(state_dim=STATE_DIM, tasks=("espresso",)))
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_dataset(Path(tmp), args.episodes, args.steps)
        cached = EpisodeCatalog([RecapDataset(tmp)])
        cached_s = np.median(batch_seconds(cached, config, args.repeats))
        reopened_s = np.median(batch_seconds(EpisodeCatalog([RecapDataset(tmp)], cache_bytes=0), config, args.repeats))
    step_s = np.median(train_step_seconds(config, args.repeats))
    print(f"dataset: {args.episodes} state-only episodes, ~{args.steps} steps each; batch {BATCH}, H = {config.horizon}")
    print(f"baseline  train step (default state-only policy): {step_s * 1e3:7.1f} ms")
    print(f"batch, cached ({cached.cached_episodes} episodes held):  {cached_s * 1e3:7.1f} ms "
          f"({cached_s / step_s:.2f} of a train step)")
    print(f"batch, reopened every sample:             {reopened_s * 1e3:7.1f} ms "
          f"({reopened_s / step_s:.2f} of a train step)")
    print(f"speed-up of batch assembly: {reopened_s / cached_s:.1f}x; steps/s bound "
          f"{1 / (step_s + reopened_s):.1f} -> {1 / (step_s + cached_s):.1f}")


if __name__ == "__main__":
    main()
