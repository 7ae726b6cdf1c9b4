"""Does the value function need the time? V trained with and without its time input on the same
demonstrations, scored by the value checks on held-out episodes (docs/TRAINER.md, "The value
function sees the time").

    python -m recap_lab.experiments.value_time_input --data runs/loop_espresso_default/demos \
        --out runs/value_time --seeds 0 1 2 [--cameras CAM ...]

For every seed (which episodes are held out, and the training seed) both arms train V_pre's
configuration (AlgorithmConfig.pretrain_value) on the same episodes; the held-out share is larger
than the loop's 10 % so that enough failures are scored. Prints one row per run, all runs, and the
mean of each arm; writes `<out>/results.json`. Every run is skipped when its checkpoint exists.
"""
from __future__ import annotations

import argparse
import json
import platform
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from recap_core.output_files import write_json_atomic
from recap_trainer.algorithm import AlgorithmConfig
from recap_trainer.rewards import RewardConfig
from recap_trainer.training.episodes import open_datasets
from recap_trainer.training.train_value import VALUE_CHECKS_JSON, load_value_checks, train_value
from recap_trainer.value_holdout import HoldoutConfig

ARMS = {"no time": False, "time": True}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m recap_lab.experiments.value_time_input", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, nargs="+", required=True, help="dataset directories (demonstrations)")
    p.add_argument("--out", type=Path, required=True, help="work directory (one checkpoint per seed and arm)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="holdout and training seeds")
    p.add_argument("--cameras", nargs="*", default=[], help="cameras V sees (default: the joints and object state)")
    p.add_argument("--steps", type=int, default=AlgorithmConfig.pretrain_value.steps, help="gradient steps per run")
    p.add_argument("--holdout-fraction", type=float, default=0.3, help="share of episodes scored, not trained on")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p.parse_args(argv)


def row(report) -> dict:
    auc = {f"auc@{p.point}": p.auc for p in report.separation}
    c = report.calibration
    return {**auc, "calibration_error": c.calibration_error, "mean_abs_error": c.mean_abs_error,
            "failed_end_error": c.failure_end_error, "successes": report.successes, "failures": report.failures,
            "verdict": report.verdict}


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    catalog = open_datasets(a.data)
    rewards = RewardConfig.from_episodes(catalog)
    results = []
    for seed in a.seeds:
        for arm, time_input in ARMS.items():
            out = a.out / f"seed_{seed}" / arm.replace(" ", "_")
            if not (out / VALUE_CHECKS_JSON).is_file():
                train = replace(AlgorithmConfig.pretrain_value, steps=a.steps, seed=seed, threads=a.threads)
                train_value(catalog, out, train, rewards, cameras=tuple(a.cameras), time_input=time_input,
                            holdout=HoldoutConfig(fraction=a.holdout_fraction, seed=seed))
            results.append({"seed": seed, "arm": arm, **row(load_value_checks(out))})
            print(json.dumps(results[-1]))
    keys = [k for k in results[0] if k not in ("seed", "arm", "verdict", "successes", "failures")]
    print(f"\n{platform.machine()}, {torch.get_num_threads()} threads; {len(a.seeds)} seeds, every run:")
    print("| seed | arm | " + " | ".join(keys) + " |")
    for r in results:
        print(f"| {r['seed']} | {r['arm']} | " + " | ".join(_fmt(r[k]) for k in keys) + " |")
    for arm in ARMS:
        runs = [r for r in results if r["arm"] == arm]
        print(f"| mean | {arm} | " + " | ".join(
            _fmt(float(np.mean([r[k] for r in runs if r[k] is not None]))) for k in keys) + " |")
    write_json_atomic(a.out / "results.json", {"data": [str(d) for d in a.data], "cameras": a.cameras,
                                               "steps": a.steps, "holdout_fraction": a.holdout_fraction,
                                               "runs": results})
    return 0


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


if __name__ == "__main__":
    raise SystemExit(main())
