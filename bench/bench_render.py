"""Camera rendering benchmark: frames/s per camera of recap_sim's CameraRenderer, and what rendering
at the camera rate adds to one sim step.

Baselines from the same run: the 320x240 image (the sim's default camera size) for the per-image
figures, the sim step without cameras for the per-step figures. Prints machine info; wall times on a
shared machine are taken under its load (the load average is printed).

    python bench/bench_render.py            # 60 frames per configuration
    python bench/bench_render.py --frames 20
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from tqdm import tqdm

from recap_core.aloha_layout import CAMERA_NAMES
from recap_sim.env import SimConfig, SimEnv
from recap_sim.renderer import CameraRenderer

import mujoco  # noqa: I001  (after recap_sim, which selects the headless GL backend)

SIZES = ((240, 320), (96, 128), (64, 80), (48, 64))  # (H, W); the first is the baseline
CAMERA_COUNTS = (1, 3)


def machine_info() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"platform {platform.platform()}, {os.cpu_count()} cpus, load {tuple(round(x, 2) for x in load)}, "
            f"python {platform.python_version()}, torch {torch.__version__}, mujoco {mujoco.__version__}, "
            f"MUJOCO_GL={os.environ.get('MUJOCO_GL')}")


def ms_per_image(env: SimEnv, size: tuple[int, int], cameras: tuple[str, ...], frames: int) -> float:
    """Wall ms per camera image, rendering `cameras` of the env's current state `frames` times."""
    renderer = CameraRenderer(env.model, cameras, *size)
    try:
        renderer.render(env.data)  # warm-up: the GL context and the scene upload
        start = time.perf_counter()
        for _ in range(frames):
            renderer.render(env.data)
        return 1000 * (time.perf_counter() - start) / (frames * len(cameras))
    finally:
        renderer.close()


def ms_per_step(config: SimConfig, steps: int) -> float:
    """Wall ms per control step (render at the camera rate: every camera_period_steps)."""
    env = SimEnv(config)
    try:
        obs = env.reset(0)
        hold = np.asarray(obs.qpos, dtype=np.float64)
        env.step(hold)
        start = time.perf_counter()
        for _ in range(steps):
            if env.step(hold).done:
                env.reset(0)
        return 1000 * (time.perf_counter() - start) / steps
    finally:
        env.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60, help="renders per (size, camera count)")
    ap.add_argument("--steps", type=int, default=250, help="control steps per sim-step measurement (5 s at 50 Hz)")
    args = ap.parse_args()
    print(machine_info())
    env = SimEnv(SimConfig())
    env.reset(0)
    rows = [(size, n) for size in SIZES for n in CAMERA_COUNTS]
    results = {}
    for size, n in tqdm(rows, desc="render", unit="config"):
        results[size, n] = ms_per_image(env, size, CAMERA_NAMES[:n], args.frames)
    env.close()
    base = results[SIZES[0], 1]
    print(f"\nper camera image (baseline: 1 camera at {SIZES[0][1]}x{SIZES[0][0]}, {base:.2f} ms)")
    print(f"{'W x H':>9} {'cameras':>7} {'ms/image':>9} {'frames/s/cam':>13} {'vs baseline':>12}")
    for (size, n), ms in results.items():
        print(f"{size[1]:>4}x{size[0]:<4} {n:>7} {ms:>9.2f} {1000 / ms:>13.0f} {base / ms:>11.1f}x")

    period = SimConfig().camera_period_steps
    rate = 1 / (period * SimConfig().control_period)
    bare = ms_per_step(SimConfig(), args.steps)
    print(f"\none 50 Hz sim step, cameras rendered every {period} steps ({rate:.0f} Hz); "
          f"baseline: no cameras, {bare:.2f} ms/step")
    for size in tqdm((SIZES[0], SIZES[-1]), desc="sim step", unit="size", leave=False):
        ms = ms_per_step(SimConfig(cameras=CAMERA_NAMES, image_size=size, camera_period_steps=period), args.steps)
        print(f"  3 cameras {size[1]}x{size[0]}: {ms:.2f} ms/step ({ms / bare:.2f}x the baseline, "
              f"+{ms - bare:.2f} ms; real-time budget 20 ms)")


if __name__ == "__main__":
    main()
