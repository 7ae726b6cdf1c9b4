"""Training-step benchmark: the project's step (fused AdamW, gradients rescaled only when over the
clip norm) vs torch's defaults (per-tensor AdamW, clip_grad_norm_ rescaling on every step).

    python bench/bench_train_step.py [--steps 200] [--threads 2] [--batch-size 64]

Both train the same default state-only policy (the one `recap-lab loop` trains) on the same
batch, interleaved in blocks of 10 steps so that both see the same load. Prints steps/s of each,
the ratio and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch import nn

from recap_model.models import POSITIVE, ObservationConfig, PolicyConfig, PolicyModel
from recap_trainer.training.run import TrainConfig, make_optimizer, train_step
from recap_trainer.training.train_policy import PolicyLoss

STATE_DIM = 15  # espresso's privileged object state


def torch_default_step(loss_module: nn.Module, optimizer: torch.optim.Optimizer, batch: dict, grad_clip: float) -> float:
    optimizer.zero_grad(set_to_none=True)
    loss = loss_module(**batch)
    loss.backward()
    nn.utils.clip_grad_norm_(loss_module.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="steps per variant")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the loop's --train-threads)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = PolicyConfig(observation=ObservationConfig(state_dim=STATE_DIM))
    n = args.batch_size
    torch.manual_seed(0)
    b = {"qpos": torch.randn(n, 14), "task_id": torch.zeros(n, dtype=torch.long), "env_state": torch.randn(n, STATE_DIM),
         "indicator": torch.full((n,), POSITIVE), "actions": torch.randn(n, config.horizon, 14)}
    kw = {"batch": b, "noise": torch.randn_like(b["actions"]), "tau": torch.rand(n), "weights": None}
    variants = {}
    for name, step in (("project", train_step), ("baseline: torch defaults", torch_default_step)):
        torch.manual_seed(0)
        model = PolicyModel(config)
        if name == "project":
            optimizer, _ = make_optimizer(model, TrainConfig())
        else:
            optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=1e-4)
        variants[name] = (step, PolicyLoss(model), optimizer)
    seconds = {name: 0.0 for name in variants}
    for name, (step, loss, opt) in variants.items():
        step(loss, opt, kw, 1.0)  # warm-up
    for _ in range(max(args.steps // 10, 1)):
        for name, (step, loss, opt) in variants.items():
            start = time.perf_counter()
            for _ in range(10):
                step(loss, opt, kw, 1.0)
            seconds[name] += time.perf_counter() - start
    steps = max(args.steps // 10, 1) * 10
    params = sum(p.numel() for p in variants["project"][1].parameters()) / 1e6
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    print(f"default state-only policy, {params:.2f}M parameters, batch {n}, {steps} steps each:")
    rate = {name: steps / s for name, s in seconds.items()}
    for name, r in rate.items():
        print(f"  {name:26s} {r:6.1f} steps/s ({1e3 / r:5.1f} ms a step)")
    print(f"  speed-up: {rate['project'] / rate['baseline: torch defaults']:.2f}x")


if __name__ == "__main__":
    main()
