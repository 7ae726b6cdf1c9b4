"""Vision-policy training on CUDA (float32 and bfloat16 autocast) vs the CPU, in one run.

    python bench/gpu_vision_train.py [--budget-s 60] [--batch-size 64] [--threads 2] [--devices cpu cuda cuda-amp]

Trains BC on synthetic image episodes held in memory (no simulator needed, so it runs on a bare
GPU box with torch and this repository) with the default image model (ObservationConfig defaults,
3 cameras), through the trainer's own pieces: PolicyBatches (batch assembly on the CPU),
to_device, train_step (with `autocast_device` for "cuda-amp", which TrainConfig.amp selects).
Every device trains for the same wall-clock budget; prints samples/s, the ratio to the CPU, the
last loss and the machine (platform, CPU count, torch, GPU).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from recap_model.models import ObservationConfig, PolicyConfig, PolicyModel
from recap_trainer.episode import EpisodeData
from recap_trainer.normalization import compute_stats
from recap_trainer.training.episodes import EpisodeCatalog
from recap_trainer.training.run import TrainConfig, make_optimizer, to_device, train_step
from recap_trainer.training.train_policy import PolicyBatches, PolicyLoss, PolicyTrainConfig

CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")


def synthetic_episodes(n: int, steps: int, size: tuple[int, int]) -> list[EpisodeData]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        qpos = np.cumsum(rng.normal(0, 0.01, (steps, 14)), axis=0)
        out.append(EpisodeData(
            episode_id=f"synthetic-{i}", task="transfer_cube", outcome="success", source="demo", iteration=0,
            timestamps=np.arange(steps) * 0.02, qpos=qpos, env_state=None,
            images={c: rng.integers(0, 255, (steps, *size, 3), dtype=np.uint8) for c in CAMS},
            executed_action=qpos + 0.01, proposed_action=np.full((steps, 14), np.nan),
            intervention=np.zeros(steps, bool), metadata={}))
    return out


def run(device: str, catalog: EpisodeCatalog, config: PolicyConfig, batch_size: int, budget_s: float) -> tuple[float, float]:
    """(samples/s, last loss) of BC for `budget_s` seconds on `device` ("cpu", "cuda", "cuda-amp")."""
    torch_device, amp = device.removesuffix("-amp"), device.endswith("-amp")
    torch.manual_seed(0)
    model = PolicyModel(config).to(torch_device)
    optimizer, _ = make_optimizer(model, TrainConfig())
    loss_module = PolicyLoss(model).train()
    stats = compute_stats(catalog, config.horizon)
    batches = PolicyBatches(catalog, np.arange(len(catalog)), config, stats, PolicyTrainConfig("bc"), None)
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)

    def step() -> float:
        batch = to_device(batches(rng, gen, batch_size, slice(0, batch_size)), torch_device)
        return train_step(loss_module, optimizer, batch, 1.0, torch_device if amp else None)

    for _ in range(3):  # warm-up: kernels, allocator
        step()
    steps, loss, start = 0, float("nan"), time.perf_counter()
    while time.perf_counter() - start < budget_s:
        loss = step()  # float(loss) synchronises the GPU every step
        steps += 1
    return steps * batch_size / (time.perf_counter() - start), loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=60.0, help="wall-clock training budget per device (s)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda", "cuda-amp"], choices=("cpu", "cuda", "cuda-amp"),
                        help="what to run; cuda-amp = bfloat16 autocast (TrainConfig.amp)")
    parser.add_argument("--episodes", type=int, default=20, help="synthetic episodes of 200 steps")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if any(d.startswith("cuda") for d in args.devices) and not torch.cuda.is_available():
        parser.error("--devices names cuda but torch sees no CUDA device")
    catalog = EpisodeCatalog([synthetic_episodes(args.episodes, 200, ObservationConfig().image_size)])
    obs = ObservationConfig(cameras=CAMS, tasks=catalog.tasks())
    config = PolicyConfig(observation=obs)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), GPU {gpu}, load average {os.getloadavg()[0]:.2f}")
    print(f"model: {obs.image_encoder} {obs.image_channels}, {len(CAMS)} cameras at {obs.image_size}, shift "
          f"{obs.image_shift}; batch {args.batch_size}; {args.budget_s:g} s per device")
    rates = {}
    for device in args.devices:
        rates[device], loss = run(device, catalog, config, args.batch_size, args.budget_s)
        ratio = f", {rates[device] / rates['cpu']:.1f}x the CPU" if "cpu" in rates and device != "cpu" else ""
        print(f"  {device:9s} {rates[device]:8.0f} samples/s (last loss {loss:.4f}){ratio}", flush=True)


if __name__ == "__main__":
    main()
