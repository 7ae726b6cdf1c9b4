"""Demonstration generation benchmark: the scripted expert in worker processes vs in one process.

    python bench/bench_datagen.py [--task espresso] [--episodes 60] [--workers 2]

Generates the same seeds twice, in the same run: with --workers processes, and (the baseline) in
this process alone, as the loop did when it ran the expert in its own process. Prints both times, the ratio
and the machine, and checks that both datasets hold the same episodes.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from recap_lab.datagen import DatagenConfig, generate_dataset
from recap_trainer.dataset import RecapDataset


def seconds_to_generate(directory: Path, config: DatagenConfig, workers: int) -> float:
    start = time.perf_counter()
    generate_dataset(directory, config, progress=False, workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="espresso")
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = DatagenConfig(task=args.task, episodes=args.episodes)
    with tempfile.TemporaryDirectory() as tmp:
        parallel = seconds_to_generate(Path(tmp) / "parallel", config, args.workers)
        serial = seconds_to_generate(Path(tmp) / "serial", config, 1)
        a, b = RecapDataset(Path(tmp) / "serial"), RecapDataset(Path(tmp) / "parallel")
        same = len(a) == len(b) and all(np.array_equal(x.executed_action, y.executed_action) for x, y in zip(a, b))
        steps = a.num_steps
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{args.episodes} {args.task} demonstrations ({steps} steps):")
    print(f"  {args.workers} worker processes: {parallel:.1f} s ({steps / parallel:.0f} steps/s)")
    print(f"  one process (baseline):  {serial:.1f} s ({steps / serial:.0f} steps/s)")
    print(f"  speed-up: {serial / parallel:.2f}x; identical datasets: {same}")


if __name__ == "__main__":
    main()
