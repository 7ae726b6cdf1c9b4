"""Evaluation outcomes by scene: how successes and early failures spread over where each episode's
seed put an object (docs/BRINGUP.md, "Where the iterations lose: the far end of the right arm's reach").

    python -m recap_lab.experiments.outcomes_by_scene runs/cameras/seed_3/eval/iter_0.json \\
        runs/cameras/seed_3/eval/iter_2.json --state cup_x --bins 4 --plot runs/cameras/seed_3/by_cup_x.png

An evaluation record keeps each episode's seed, outcome, failure reason and length. The seed fixes
the scene, so resetting the task's simulation with it (no cameras, no policy, no step) recovers
where the objects started. Evaluations of one run share their seeds, so a bin holds the same scenes
for every policy: a difference between two policies within a bin is theirs, not the scenes'.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recap_core.output_files import check_output_file
from recap_lab.evaluation import EvaluationReport
from recap_lab.report import load_report
from recap_lab.stats import Estimate, wilson_interval
from recap_sim.env import SimConfig, SimEnv


@dataclass(frozen=True)
class BinOutcome:
    episodes: int
    success: Estimate
    early_failures: int  # failures that ended the episode within `early_s` of its start
    early_reasons: dict[str, int]


def scene_values(task: str, seeds: list[int], state: str) -> np.ndarray:
    """The object-state value `state` at reset, per seed (the task's own placement, nothing rendered)."""
    env = SimEnv(SimConfig(task=task))
    names = list(env.state_names)
    if state not in names:
        raise ValueError(f"task {task!r} has no object-state value {state!r}; choose from {', '.join(names)}")
    index = names.index(state)
    return np.array([env.reset(seed).env_state[index] for seed in seeds], dtype=float)


def bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins over the values' range (bins + 1 edges)."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    return np.linspace(float(values.min()), float(values.max()), bins + 1)


def outcomes_by_bin(report: EvaluationReport, values: dict[int, float], edges: np.ndarray,
                    early_s: float) -> list[BinOutcome]:
    """Per bin of `edges` (the last one closed): episodes, success rate, and the failures within `early_s`."""
    index = np.clip(np.searchsorted(edges, [values[e.seed] for e in report.results], side="right") - 1,
                    0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        members = [e for e, i in zip(report.results, index) if i == b]
        early: dict[str, int] = {}
        for e in members:
            if e.outcome != "success" and e.sim_time_s <= early_s:
                early[e.failure_reason] = early.get(e.failure_reason, 0) + 1
        success = (wilson_interval(sum(e.outcome == "success" for e in members), len(members)) if members
                   else Estimate(float("nan"), float("nan"), float("nan")))
        rows.append(BinOutcome(len(members), success, sum(early.values()), early))
    return rows


def breakdown_table(evaluations: list[EvaluationReport], rows: list[list[BinOutcome]], edges: np.ndarray, state: str,
                    early_s: float) -> str:
    """Markdown: one row per evaluation, one cell per bin (success % [95 % CI], failures within early_s)."""
    header = [f"{state} {lo:.3g} to {hi:.3g}" for lo, hi in zip(edges[:-1], edges[1:])]
    lines = [f"Success rate [95 % CI] and failures within the first {early_s:g} s, by {state} at reset:", "",
             "| policy | " + " | ".join(header) + " |", "|---|" + "---|" * len(header),
             "| episodes | " + " | ".join(str(r.episodes) for r in rows[0]) + " |"]
    for evaluation, row in zip(evaluations, rows):
        cells = [f"{r.success.format(100, 0)} %, {r.early_failures} early" if r.episodes else "-" for r in row]
        lines.append(f"| {evaluation.label} | " + " | ".join(cells) + " |")
    reasons: dict[str, int] = {}
    for row in rows:
        for r in row:
            for reason, count in r.early_reasons.items():
                reasons[reason] = reasons.get(reason, 0) + count
    if reasons:
        lines += ["", f"Failures within the first {early_s:g} s, all policies: "
                  + ", ".join(f"{reason or 'unnamed'} {count}" for reason, count in
                              sorted(reasons.items(), key=lambda item: -item[1]))]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recap_lab.experiments.outcomes_by_scene",
        description="Success rate and early failures of evaluations, by where each episode's seed placed an object "
                    "(the scenes are recovered by resetting the task's simulation with the recorded seeds).")
    parser.add_argument("evaluations", type=Path, nargs="+",
                        help="evaluation records (a run's eval/*.json); those of one run share their scenes")
    parser.add_argument("--state", default="cup_x",
                        help="the object-state value at reset to bin the scenes by (default cup_x; the task's "
                             "state names are listed when this one is unknown)")
    parser.add_argument("--bins", type=int, default=4, help="equal-width bins over the scenes' range (default 4)")
    parser.add_argument("--early-s", type=float, default=2.0,
                        help="a failure that ends the episode within this many seconds counts as early (default 2)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="also write the success rate by bin as a PNG here (an existing file is replaced)")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    try:
        if opts.bins < 1 or opts.early_s < 0:
            raise ValueError(f"--bins must be at least 1 and --early-s at least 0, got {opts.bins} and {opts.early_s}")
        if opts.plot is not None:
            check_output_file(opts.plot, overwrite=True, what="--plot")
        evaluations = [load_report(path) for path in opts.evaluations]
        tasks = {e.config.task for e in evaluations}
        if len(tasks) > 1:
            raise ValueError(f"the evaluations are of different tasks ({', '.join(sorted(tasks))}): give one task's")
        seeds = sorted({episode.seed for e in evaluations for episode in e.results})
        values = dict(zip(seeds, scene_values(tasks.pop(), seeds, opts.state).tolist()))
    except (ValueError, OSError) as error:
        print(f"outcomes_by_scene: {error}", file=sys.stderr)
        return 2
    edges = bin_edges(np.array(list(values.values())), opts.bins)
    rows = [outcomes_by_bin(e, values, edges, opts.early_s) for e in evaluations]
    print(breakdown_table(evaluations, rows, edges, opts.state, opts.early_s))
    if opts.plot is not None:
        from recap_lab.plots import plot_success_by_bin
        centres = [f"{(lo + hi) / 2:.3g}" for lo, hi in zip(edges[:-1], edges[1:])]
        plot_success_by_bin([e.label for e in evaluations], centres, [[r.success for r in row] for row in rows],
                            opts.plot, xlabel=f"{opts.state} at reset (bin centre)")
        print(f"plot: {opts.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
