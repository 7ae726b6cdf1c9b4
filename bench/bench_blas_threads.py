"""Scripted-expert benchmark: numpy's BLAS with one thread (what the sim node, demonstration
workers and rollouts now use, recap_sim/blas_threads.py) vs OpenBLAS's default thread count.

    python bench/bench_blas_threads.py [--task espresso] [--episodes 10] [--busy 0]

Generates the same seeded demonstrations in this process under both settings, alternating episode
by episode so that both see the same load, and checks that both produce the same actions. --busy N
starts N processes that spin on a core meanwhile (a training run or the ROS graph next to it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from recap_sim.blas_threads import one_blas_thread
from recap_sim.env import SimConfig, SimEnv
from recap_lab.datagen import DatagenConfig, generate_episode


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="espresso")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on a core during the run")
    args = parser.parse_args()
    config = DatagenConfig(task=args.task, episodes=args.episodes)
    env = SimEnv(SimConfig(task=args.task))
    default_threads = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)
    spinners = [multiprocessing.get_context("spawn").Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    seconds, steps, same = {"one": 0.0, "default": 0.0}, 0, True
    try:
        for seed in range(args.episodes):
            actions = {}
            for name in ("one", "default"):
                limit = one_blas_thread() if name == "one" else threadpool_limits(limits=default_threads, user_api="blas")
                with limit:
                    start = time.perf_counter()
                    episode = generate_episode(env, config, seed)
                    seconds[name] += time.perf_counter() - start
                actions[name] = episode.executed_action
            steps += len(actions["one"])
            same &= np.array_equal(actions["one"], actions["default"])
    finally:
        for p in spinners:
            p.terminate()
        env.close()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__}, OpenBLAS default threads {default_threads}, {args.busy} busy processes")
    print(f"{args.episodes} {args.task} demonstrations ({steps} steps), in this process:")
    print(f"  one BLAS thread:           {seconds['one']:6.1f} s ({steps / seconds['one']:6.0f} steps/s)")
    print(f"  baseline: {default_threads} BLAS threads:    {seconds['default']:6.1f} s ({steps / seconds['default']:6.0f} steps/s)")
    print(f"  speed-up: {seconds['default'] / seconds['one']:.2f}x; identical actions: {same}")


if __name__ == "__main__":
    main()
