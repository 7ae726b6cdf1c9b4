"""Where `espresso` episodes leave the cup: the distance from the cup's centre to the serving spot
at each episode's last step, by dataset and outcome (docs/BRINGUP.md).

    python -m recap_lab.experiments.serve_placement runs/cameras/seed_3/data/demos \\
        runs/cameras/seed_3/data/rollouts_1 runs/cameras/seed_3/data/rollouts_2

An episode succeeds when the released cup stands within PLACE_TOL of the serving spot; one that
leaves it standing a little further off times out ("cup standing near the serving spot, brewed").
How the successes' distances spread says how close a policy's placements come to that edge. It
reads the simulator's object state that sim datasets carry for analysis (camera runs too, where
no policy reads it).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recap_sim.tasks.espresso import PLACE_TOL
from recap_trainer.dataset import RecapDataset


@dataclass(frozen=True)
class Placement:
    outcome: str
    distance_m: float  # cup centre to the serving spot, at the last step
    brewed: bool
    held: bool  # a gripper still touches the cup


def final_placement(episode) -> Placement | None:
    """None for an episode of another task or without object state."""
    names = list((episode.metadata or {}).get("state_names") or [])
    if episode.task != "espresso" or episode.env_state is None or not names:
        return None
    last = np.asarray(episode.env_state[-1], dtype=np.float64)
    at = {name: last[i] for i, name in enumerate(names)}
    distance = float(np.hypot(at["cup_x"] - at["serve_x"], at["cup_y"] - at["serve_y"]))
    return Placement(episode.outcome, distance, at["brewed"] > 0.5, at["cup_touch_left"] + at["cup_touch_right"] > 0)


def _cm(values: list[float]) -> str:
    if not values:
        return "-"
    p50, p90 = np.percentile(values, [50, 90])
    return f"{p50 * 100:.1f} / {p90 * 100:.1f} / {max(values) * 100:.1f}"


def placement_table(datasets: list[Path]) -> str:
    """Markdown: per dataset, the successes' distances and the brewed failures that let go of the cup."""
    lines = [f"Final distance from the cup's centre to the serving spot, cm (success within {PLACE_TOL * 100:g}):", "",
             "| dataset | episodes | successes | successes: median / 90th pct / max | "
             f"brewed, released within {2 * PLACE_TOL * 100:g} cm, not served | their distances |",
             "|---|---|---|---|---|---|"]
    for path in datasets:
        placements = [p for p in map(final_placement, RecapDataset(path)) if p is not None]
        served = [p.distance_m for p in placements if p.outcome == "success"]
        near = sorted(p.distance_m for p in placements if p.outcome != "success" and p.brewed and not p.held
                      and p.distance_m < 2 * PLACE_TOL)
        lines.append(f"| {path} | {len(placements)} | {len(served)} | {_cm(served)} | {len(near)} | "
                     f"{', '.join(f'{d * 100:.1f}' for d in near) or '-'} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lab.experiments.serve_placement",
        description="How far from the serving spot espresso episodes leave the cup, by dataset and outcome "
                    "(from the object state sim datasets carry).")
    parser.add_argument("datasets", type=Path, nargs="+", help="dataset directories (demos, rollouts_k)")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    missing = [str(p) for p in opts.datasets if not (p / "manifest.json").is_file()]
    if missing:
        print(f"serve_placement: not a dataset directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    print(placement_table(opts.datasets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
