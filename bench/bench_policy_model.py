"""Policy model benchmark: training throughput and per-chunk inference latency on this CPU.

    python bench/bench_policy_model.py [--quick] [--threads N]

Baselines measured in the same run (timings on a shared machine are noisy, ratios less so):
  - training: samples/s of a full train step (forward + backward + AdamW) vs forward-only.
  - inference: latency of one chunk (H = 50, default denoising steps, beta = 1 and beta = 1.5)
    vs one velocity-network forward pass (a single denoising step).
Budget: p99 inference latency of the default model < 100 ms (a chunk every 0.5 s at 50 Hz).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from recap_model.models import POSITIVE, ObservationConfig, PolicyConfig, PolicyModel
from recap_trainer.training.run import TrainConfig, make_optimizer, train_step
from recap_trainer.training.train_policy import PolicyLoss

CAMERAS = ("cam_high", "cam_left_wrist", "cam_right_wrist")
STATE_DIM = 24  # about the size of the sim tasks' privileged object state


def batch(config: PolicyConfig, n: int) -> dict:
    obs = config.observation
    b = {"qpos": torch.randn(n, 14), "task_id": torch.zeros(n, dtype=torch.long),
         "indicator": torch.full((n,), POSITIVE), "actions": torch.randn(n, config.horizon, 14)}
    if obs.state_dim:
        b["env_state"] = torch.randn(n, obs.state_dim)
    if obs.cameras:
        b["images"] = torch.randint(0, 255, (n, len(obs.cameras), 3, *obs.image_size), dtype=torch.uint8)
    return b


def timed(fn, repeats: int) -> np.ndarray:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return np.array(out)


def training_throughput(config: PolicyConfig, batch_size: int, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = PolicyModel(config)
    loss = PolicyLoss(model)
    optimizer, _ = make_optimizer(model, TrainConfig())
    b = batch(config, batch_size)
    kw = {"batch": b, "noise": torch.randn_like(b["actions"]), "tau": torch.rand(batch_size), "weights": None}
    train = timed(lambda: train_step(loss, optimizer, kw, 1.0), steps)
    with torch.no_grad():
        forward = timed(lambda: loss(**kw), steps)
    return batch_size / np.median(train), batch_size / np.median(forward)


def inference_latency(config: PolicyConfig, repeats: int) -> dict[str, np.ndarray]:
    """Interleaved (baseline, beta = 1, beta = 1.5) per repetition, so that all three see the same
    load on a shared machine. Returns name -> (wall seconds, CPU seconds of this process): the CPU
    time is what the chunk costs, the wall time adds waiting for a core on a loaded machine."""
    torch.manual_seed(0)
    model = PolicyModel(config).eval()
    b = {k: v[:1] for k, v in batch(config, 1).items()}
    noise = torch.randn(1, config.horizon, 14)
    runs = {
        "baseline: one velocity forward": lambda: model.velocity(noise, torch.zeros(1), cond),
        "chunk beta=1": lambda: model.sample(b, POSITIVE, 1.0, noise),
        "chunk beta=1.5": lambda: model.sample(b, POSITIVE, 1.5, noise),
    }
    out: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    with torch.no_grad():
        cond = model.conditioning(model.encoder(b), torch.tensor([POSITIVE]))
        for fn in runs.values():
            fn()  # warm-up
        for _ in range(repeats):
            for name, fn in runs.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                fn()
                out[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    return {k: (np.array(out[k]), np.array(cpu[k])) for k in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: what a policy node next to other processes should use)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps, repeats = (5, 30) if args.quick else (20, 200)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}")
    state = PolicyConfig(observation=ObservationConfig(state_dim=STATE_DIM))
    image = PolicyConfig(observation=ObservationConfig(cameras=CAMERAS, image_size=(96, 128)))
    for name, config, bs in (("state-only", state, 64), ("image (3 cams 96x128)", image, 16)):
        params = sum(p.numel() for p in PolicyModel(config).parameters()) / 1e6
        train, forward = training_throughput(config, bs, steps)
        print(f"training {name:22s} {params:.2f}M params, batch {bs}: {train:8.1f} samples/s "
              f"(baseline forward-only {forward:8.1f} samples/s, ratio {train / forward:.2f})")
    ok = True
    for name, config in (("state-only", state), ("image (3 cams 96x128)", image)):
        lat = inference_latency(config, repeats)
        base = np.median(lat["baseline: one velocity forward"][0])
        for key, (wall, cpu) in lat.items():
            p50, p99 = np.percentile(wall, 50) * 1e3, np.percentile(wall, 99) * 1e3
            print(f"inference {name:22s} {key:32s} wall p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                  f"CPU p50 {np.median(cpu) * 1e3:6.2f} ms  ratio to baseline (wall p50) {np.median(wall) / base:5.1f}")
            if key.startswith("chunk") and p99 >= 100:
                ok = False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} cores")
    print(f"H = {state.horizon}, denoising steps = {state.denoising_steps}; budget p99 < 100 ms: {'OK' if ok else 'EXCEEDED'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
