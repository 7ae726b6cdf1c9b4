"""The training loop shared by the value function and the policy.

Determinism and data parallelism: every step draws a *global* batch (sample indices and all random
tensors) from generators seeded with `seed` on every process; process r of W trains on the r-th
contiguous slice and DDP averages the gradients. The mean of the per-slice mean losses is the
global-batch mean loss, so a 2-process `torchrun` run follows the 1-process loss curve up to
floating-point summation order. Randomness inside the model (the image encoder's random shift)
comes from torch's default generator, reseeded from `gen` every step: reproducible and resumable,
but each process draws the shifts of its own slice, so with images and W > 1 the curve is not the
1-process one sample for sample.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from recap_core.output_files import write_bytes_atomic, write_json_atomic
from recap_core.config_errors import check_field
from recap_trainer.training.weight_average import WeightAverage


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000  # gradient steps (global batches)
    batch_size: int = 64  # global batch, split over processes
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 100  # linear learning-rate warm-up
    lr_schedule: str = "cosine"  # after warm-up: "cosine" decay to min_lr_ratio * lr, or "constant"
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0  # max gradient norm
    seed: int = 0
    threads: int = 0  # torch CPU threads per process; 0 = torch's default
    device: str = "cpu"  # "cuda": process r uses GPU LOCAL_RANK and NCCL (not tested here: no GPU)
    # Mixed precision: forward and loss under torch.autocast in bfloat16 (weights, gradients and
    # AdamW stay float32; bfloat16 has float32's range, so no GradScaler). For image models on
    # CUDA; on a CPU it runs but is not faster (bench/gpu_vision_train.py).
    amp: bool = False
    # Exponential moving average of the weights (training/weight_average.py): the checkpoint holds
    # the average; 0 = off (the last weights).
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_field(self.device in ("cpu", "cuda"), name, "device", "must be 'cpu' or 'cuda'", self.device)
        check_field(self.steps > 0, name, "steps", "must be > 0", self.steps)
        check_field(self.batch_size > 0, name, "batch_size", "must be > 0", self.batch_size)
        check_field(self.lr > 0, name, "lr", "must be > 0", self.lr)
        check_field(self.warmup_steps >= 0, name, "warmup_steps", "must be >= 0", self.warmup_steps)
        check_field(self.grad_clip > 0, name, "grad_clip", "must be > 0", self.grad_clip)
        check_field(self.seed >= 0, name, "seed", "must be >= 0", self.seed)
        check_field(self.threads >= 0, name, "threads", "must be >= 0 (0 = torch's default)", self.threads)
        check_field(self.lr_schedule in ("cosine", "constant"), name, "lr_schedule", "must be 'cosine' or 'constant'",
                    self.lr_schedule)
        check_field(0.0 <= self.min_lr_ratio <= 1.0, name, "min_lr_ratio", "must be in [0, 1]", self.min_lr_ratio)
        check_field(0.0 <= self.ema_decay < 1.0, name, "ema_decay", "must be in [0, 1) (0 = no average)",
                    self.ema_decay)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1

    device: str = "cpu"

    @classmethod
    def from_env(cls, device: str = "cpu") -> "Distributed":
        """torchrun sets WORLD_SIZE / RANK / LOCAL_RANK; gloo on CPUs, NCCL on GPUs."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if device == "cuda":
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(device)
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        return cls(dist.get_rank() if world > 1 else 0, world, device)

    def shard(self, n: int) -> slice:
        if n % self.world:
            raise ValueError(f"batch size {n} is not divisible by the {self.world} processes")
        per = n // self.world
        return slice(self.rank * per, (self.rank + 1) * per)

    def mean(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world


class BatchSource:
    """Draws step k's global batch of `size` samples (all random numbers) and builds the slice
    `part` this process trains on: returns the kwargs of the loss module."""

    def __call__(self, rng: np.random.Generator, gen: torch.Generator, size: int, part: slice) -> dict:
        raise NotImplementedError


def train_step(
    loss_module: nn.Module, optimizer: torch.optim.Optimizer, batch: dict, grad_clip: float,
    autocast_device: str | None = None,
) -> float:
    """One gradient step: loss on the batch, backward (DDP averages gradients), clip, update.

    `autocast_device` ("cpu" or "cuda"): the forward pass runs under bfloat16 autocast."""
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(autocast_device or "cpu", dtype=torch.bfloat16, enabled=autocast_device is not None):
        loss = loss_module(**batch)
    loss.backward()
    clip_gradients(loss_module, grad_clip)
    optimizer.step()
    return float(loss.detach())


def clip_gradients(module: nn.Module, max_norm: float) -> float:
    """clip_grad_norm_, but the gradients are only rescaled when their norm is over `max_norm`:
    torch multiplies every gradient by min(1, max_norm / norm) on every step, which costs as much
    as the norm itself on a CPU and changes nothing on the steps that need no clipping."""
    params = [p for p in module.parameters() if p.grad is not None]
    norm = nn.utils.get_total_norm([p.grad for p in params])
    total = float(norm)
    if total > max_norm:
        nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return total


@dataclass
class TrainerState:
    step: int
    losses: list[float]
    rng: dict
    torch_rng: list[int]

    def to_json(self) -> dict:
        return asdict(self)


def make_optimizer(model: nn.Module, config: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    # fused: one kernel for all parameters; on a CPU 3.7x faster than torch's per-tensor default for
    # the 4.5M-parameter policy (2.3 vs 8.7 ms a step), which was a fifth of every training step.
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(config, s))
    return optimizer, scheduler


def lr_factor(config: TrainConfig, step: int) -> float:
    """Learning rate of `step` as a fraction of config.lr: linear warm-up, then constant or cosine.

    Cosine to 5 % by default: with a constant rate the flow-matching loss was still falling at the
    end of every budget we could afford on a CPU; the decay buys the end of that curve.
    """
    warm = max(config.warmup_steps, 1)
    if step < warm or config.lr_schedule == "constant":
        return min(1.0, (step + 1) / warm)
    progress = min(1.0, (step - warm) / max(config.steps - warm, 1))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def fast_forward(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> None:
    """Put a fresh learning-rate schedule at `steps` when resuming."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "scheduler.step() before optimizer.step()"
        for _ in range(steps):
            scheduler.step()


def run_training(
    loss_module: nn.Module,
    batches: BatchSource,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainerState | None = None,
    desc: str = "train",
    on_checkpoint: Callable[[TrainerState], None] | None = None,
    checkpoint_every: int = 0,
    average: WeightAverage | None = None,
) -> TrainerState:
    """Train to `config.steps` (continuing from `state` when resuming), updating `average` after
    every step. Returns the final state."""
    ctx = Distributed.from_env(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    module = loss_module.to(ctx.device)
    if average is not None:
        average.to(ctx.device)
    for per_param in optimizer.state.values():  # resumed optimizer state follows the parameters
        for key, value in per_param.items():
            if torch.is_tensor(value) and key != "step":
                per_param[key] = value.to(ctx.device)
    if ctx.world > 1:
        module = nn.parallel.DistributedDataParallel(
            loss_module, device_ids=[ctx.device] if ctx.device.startswith("cuda") else None)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    if state is None:
        state = TrainerState(0, [], {}, [])
    else:
        rng.bit_generator.state = state.rng
        gen.set_state(torch.tensor(state.torch_rng, dtype=torch.uint8))
    part = ctx.shard(config.batch_size)
    autocast = torch.device(ctx.device).type if config.amp else None
    bar = tqdm(total=config.steps, initial=state.step, desc=desc, disable=ctx.rank != 0, dynamic_ncols=True)
    module.train()
    while state.step < config.steps:
        batch = to_device(batches(rng, gen, config.batch_size, part), ctx.device)
        # Randomness inside the model (the image encoder's random shift) uses torch's default
        # generator; seeding it from `gen` every step makes a resumed run draw what the
        # uninterrupted run drew.
        torch.manual_seed(int(torch.randint(0, 2 ** 62, (), generator=gen)))
        loss = train_step(module, optimizer, batch, config.grad_clip, autocast)
        scheduler.step()
        if average is not None:
            average.update()
        state.losses.append(ctx.mean(loss))
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{state.losses[-1]:.4f}")
        if on_checkpoint and checkpoint_every and state.step % checkpoint_every == 0 and state.step < config.steps:
            _snapshot(state, rng, gen)
            on_checkpoint(state)
    bar.close()
    _snapshot(state, rng, gen)
    return state


def to_device(value, device: str):
    """Tensors in (nested dicts of) a batch -> device; batches are built on the CPU."""
    if torch.is_tensor(value):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value


def _snapshot(state: TrainerState, rng: np.random.Generator, gen: torch.Generator) -> None:
    state.rng = rng.bit_generator.state
    state.torch_rng = gen.get_state().tolist()


def is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def save_loss_curve(losses: list[float], path: Path, title: str) -> None:
    """PNG of the per-step loss and its running mean (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, alpha=0.35, label="loss")
    if len(losses) >= 10:
        k = max(len(losses) // 50, 5)
        ax.plot(steps[k - 1:], np.convolve(losses, np.ones(k) / k, mode="valid"), label=f"mean of {k}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100)
    plt.close(fig)
    write_bytes_atomic(path, png.getvalue())
    write_json_atomic(path.with_suffix(".json"), {"losses": losses}, indent=None)
