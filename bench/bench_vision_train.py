"""Image-encoder screen: training speed and a learning proxy for each candidate, next to the
state-only policy in the same run; and the image batch assembly against one-row-per-sample reads.

    python bench/bench_vision_train.py [--budget-s 30] [--episodes 12] [--threads 2] [--quick] [--only 0 3]

1. Speed: policy training samples/s (the product's PolicyModel, train_step: forward + backward +
   fused AdamW, batch 64, random shift on) of every candidate, its steps alternating with those of
   the default state-only policy (qpos + 15-D object state); median step times.
2. Learning proxy: transfer_cube demonstrations rendered by recap_lab.datagen at each image size
   (episodes - 3 to train on, 3 held out); each candidate trains BC for the same wall-clock budget,
   then the held-out flow-matching loss (fixed noise and tau) and the normalised action error of
   sampled chunks (10 Euler steps, positive indicator) on 256 held-out steps. A qpos-only model
   (no cameras, no object state) is the floor an image model has to beat.
3. Batch assembly (64 samples, 3 cameras at 64 x 80, from the dataset's file maps): the
   trainer's per-episode slices vs the same rows read one sample at a time, with the default
   cache and with a cache smaller than one episode.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from recap_lab.datagen import DatagenConfig, generate_dataset
from recap_model.features import observation_tensors
from recap_model.models import POSITIVE, ObservationConfig, PolicyConfig, PolicyModel
from recap_trainer.dataset import RecapDataset
from recap_trainer.normalization import compute_stats
from recap_trainer.training.common import gather_observations, observation_config_for
from recap_trainer.training.episodes import EpisodeCatalog, StepSampler
from recap_trainer.training.run import TrainConfig, make_optimizer, train_step
from recap_trainer.training.train_policy import PolicyBatches, PolicyLoss, PolicyTrainConfig

BATCH, STATE_DIM, HELD_OUT = 64, 15, 3
ALL_CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")


@dataclass(frozen=True)
class Candidate:
    name: str
    encoder: str
    channels: tuple[int, ...]
    cameras: tuple[str, ...]
    size: tuple[int, int]

    def observation(self, **kw) -> ObservationConfig:
        return ObservationConfig(cameras=self.cameras, image_size=self.size, image_encoder=self.encoder,
                                 image_channels=self.channels, **kw)


CANDIDATES = (
    Candidate("cnn 32-64-64-64, 3 cams 64x80", "strided_cnn", (32, 64, 64, 64), ALL_CAMS, (64, 80)),
    Candidate("cnn 16-32-32-32, 3 cams 64x80", "strided_cnn", (16, 32, 32, 32), ALL_CAMS, (64, 80)),
    Candidate("cnn 8-16-32, 3 cams 48x64", "strided_cnn", (8, 16, 32), ALL_CAMS, (48, 64)),
    Candidate("resnet_gn 8-16-32, 3 cams 48x64", "resnet_gn", (8, 16, 32), ALL_CAMS, (48, 64)),
    Candidate("spatial_softmax 8-16-32, 3 cams 48x64", "spatial_softmax", (8, 16, 32), ALL_CAMS, (48, 64)),
    Candidate("cnn 8-16-32, high + left wrist 48x64", "strided_cnn", (8, 16, 32), ALL_CAMS[:2], (48, 64)),
    Candidate("cnn 8-16-32, high 48x64", "strided_cnn", (8, 16, 32), ALL_CAMS[:1], (48, 64)),
    Candidate("cnn 16-32-32, high 48x64", "strided_cnn", (16, 32, 32), ALL_CAMS[:1], (48, 64)),
    Candidate("spatial_softmax 16-32-32, high 64x80", "spatial_softmax", (16, 32, 32), ALL_CAMS[:1], (64, 80)),
)


def random_batch(config: PolicyConfig, gen: torch.Generator) -> dict:
    obs, n = config.observation, BATCH
    b = {"qpos": torch.randn(n, 14, generator=gen), "task_id": torch.zeros(n, dtype=torch.long),
         "indicator": torch.full((n,), POSITIVE), "actions": torch.randn(n, config.horizon, 14, generator=gen)}
    if obs.state_dim:
        b["env_state"] = torch.randn(n, obs.state_dim, generator=gen)
    if obs.cameras:
        b["images"] = torch.randint(0, 256, (n, len(obs.cameras), 3, *obs.image_size), dtype=torch.uint8, generator=gen)
    return {"batch": b, "noise": torch.randn(n, config.horizon, 14, generator=gen), "tau": torch.rand(n, generator=gen),
            "weights": None}


def trainer(config: PolicyConfig):
    torch.manual_seed(0)
    model = PolicyModel(config)
    optimizer, _ = make_optimizer(model, TrainConfig())
    loss = PolicyLoss(model).train()
    return model, lambda kw: train_step(loss, optimizer, kw, 1.0)


def speed(candidate: Candidate, steps: int) -> tuple[float, float, int]:
    """(candidate samples/s, state-only samples/s, candidate parameters): the two models' steps
    alternate one by one and the median step time counts, so a load spike hits both or neither."""
    gen = torch.Generator().manual_seed(0)
    runs = {}
    for key, obs in (("image", candidate.observation()), ("state", ObservationConfig(state_dim=STATE_DIM))):
        config = PolicyConfig(observation=obs)
        model, step = trainer(config)
        kw = random_batch(config, gen)
        step(kw)  # warm-up
        runs[key] = (model, step, kw)
    seconds: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(steps):
        for key, (_, step, kw) in runs.items():
            start = time.perf_counter()
            step(kw)
            seconds[key].append(time.perf_counter() - start)
    rate = {k: BATCH / float(np.median(s)) for k, s in seconds.items()}
    return rate["image"], rate["state"], sum(p.numel() for p in runs["image"][0].parameters())


def held_out_scores(model: PolicyModel, catalog: EpisodeCatalog, held_out: np.ndarray, stats, config) -> tuple[float, float]:
    """(flow-matching loss, normalised action MSE of sampled chunks) on 256 fixed held-out steps."""
    batches = PolicyBatches(catalog, held_out, config, stats, PolicyTrainConfig("bc"), None)
    kw = batches(np.random.default_rng(123), torch.Generator().manual_seed(123), 256, slice(0, 256))
    model.eval()
    with torch.no_grad():
        loss = float(model.loss(kw["batch"], kw["noise"], kw["tau"]))
        chunk = model.sample(kw["batch"], POSITIVE, 1.0, kw["noise"])
    return loss, float(((chunk - kw["batch"]["actions"]) ** 2).mean())


def learning(obs: ObservationConfig, catalog: EpisodeCatalog, budget_s: float) -> tuple[int, float, float]:
    """BC for `budget_s` seconds on all but the last HELD_OUT episodes: (steps, held-out loss, MSE)."""
    config = PolicyConfig(observation=obs)
    stats = compute_stats(catalog, config.horizon)
    n = len(catalog)
    train_eps, held_out = np.arange(n - HELD_OUT), np.arange(n - HELD_OUT, n)
    model, step = trainer(config)
    batches = PolicyBatches(catalog, train_eps, config, stats, PolicyTrainConfig("bc"), None)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    steps, end = 0, time.perf_counter() + budget_s
    while time.perf_counter() < end:
        step(batches(rng, gen, BATCH, slice(0, BATCH)))
        steps += 1
    return (steps, *held_out_scores(model, catalog, held_out, stats, config))


def per_sample_gather(catalog, config, stats, episodes, steps):
    """Baseline, the trainer's previous path: rows read one sample at a time, each camera's frames
    stacked channels-first (a uint8 transposing copy)."""
    qpos, task_ids, images = [], [], {c: [] for c in config.cameras}
    for k, t in zip(episodes.tolist(), steps.tolist()):
        ep = catalog.episode(k)
        qpos.append(ep.qpos[t])
        for c in config.cameras:
            images[c].append(ep.images[c][t])
        task_ids.append(config.task_id(ep.task))
    out = observation_tensors(replace(config, cameras=()), stats, np.stack(qpos), None, {}, np.array(task_ids))
    out["images"] = torch.stack([torch.from_numpy(np.stack(images[c])).permute(0, 3, 1, 2) for c in config.cameras], dim=1)
    return out


def batch_assembly(path: Path, repeats: int) -> None:
    print(f"\nbatch assembly, {BATCH} samples, 3 cameras at 64x80 from the file maps ({repeats} batches each):")
    for label, cache in (("default cache", 1 << 30), ("cache < one episode", 1)):
        catalog = EpisodeCatalog([RecapDataset(path)], cache_bytes=cache)
        config, stats = observation_config_for(catalog, ALL_CAMS), compute_stats(catalog)
        sampler = StepSampler(catalog, np.arange(len(catalog)))
        ms = {}
        for name, gather in (("per-episode slices", gather_observations), ("baseline: per sample", per_sample_gather)):
            rng = np.random.default_rng(0)
            gather(catalog, config, stats, *sampler.sample(rng, BATCH))  # warm-up
            start = time.perf_counter()
            for _ in range(repeats):
                gather(catalog, config, stats, *sampler.sample(rng, BATCH))
            ms[name] = (time.perf_counter() - start) / repeats * 1e3
        print(f"  {label:20s} per-episode slices {ms['per-episode slices']:6.2f} ms, per sample "
              f"{ms['baseline: per sample']:6.2f} ms, ratio {ms['baseline: per sample'] / ms['per-episode slices']:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=30.0, help="wall-clock BC budget per candidate (s)")
    parser.add_argument("--episodes", type=int, default=12, help=f"demonstrations per image size ({HELD_OUT} held out)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--speed-steps", type=int, default=20, help="timed steps per model (alternating, median)")
    parser.add_argument("--quick", action="store_true", help="speed table only (no datasets, no training)")
    parser.add_argument("--only", nargs="*", type=int, help="indices of CANDIDATES to run (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    chosen = [CANDIDATES[i] for i in args.only] if args.only else list(CANDIDATES)
    with tempfile.TemporaryDirectory() as tmp:
        catalogs = {}
        if not args.quick:
            for size in sorted({c.size for c in chosen}):
                path = Path(tmp) / f"transfer_cube_{size[0]}x{size[1]}"
                generate_dataset(path, DatagenConfig(task="transfer_cube", episodes=args.episodes, seed=0,
                                                     cameras=ALL_CAMS, image_size=size), progress=False)
                catalogs[size] = EpisodeCatalog([RecapDataset(path)])
            floor = learning(ObservationConfig(tasks=catalogs[chosen[0].size].tasks()), catalogs[chosen[0].size], args.budget_s)
            print(f"qpos only (no cameras, no object state): {floor[0]} steps, held-out loss {floor[1]:.4f}, "
                  f"action MSE {floor[2]:.4f}")
        print(f"\n| candidate | params | samples/s | state-only samples/s (same run) | ratio | BC steps in {args.budget_s:g} s "
              "| held-out loss | held-out action MSE |")
        print("|---|---|---|---|---|---|---|---|")
        for c in chosen:
            image, state, params = speed(c, args.speed_steps)
            row = f"| {c.name} | {params / 1e6:.2f} M | {image:.0f} | {state:.0f} | {image / state:.2f} |"
            if catalogs:
                catalog = catalogs[c.size]
                steps, loss, mse = learning(c.observation(tasks=catalog.tasks()), catalog, args.budget_s)
                row += f" {steps} | {loss:.4f} | {mse:.4f} |"
            print(row + (" - | - | - |" if not catalogs else ""), flush=True)
        if (64, 80) in catalogs:
            batch_assembly(Path(tmp) / "transfer_cube_64x80", repeats=20)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
