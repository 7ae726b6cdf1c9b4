"""Which advantage horizon tells a loop run's failed deployments from its successful ones?

Relabels the rollouts of iteration k of a `recap-lab loop` work directory with the values V^k
already gave them (train/iter_<k>/labels: no network runs), once with Monte Carlo advantages and
once per `--n-step`, the threshold set as the loop sets it (the same positive fraction of the
rollouts' own steps), and prints for each horizon and rollout source the positive fraction of the
policy's own steps (human steps, forced positive, left out) in failed and in successful episodes,
with the value check's verdict on it (docs/TRAINER.md, "failures labelled like successes").

    python -m recap_lab.experiments.label_horizon --run runs/cameras/seed_1 --iteration 1 --n-step 50
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from recap_trainer.label_breakdown import data_source
from recap_trainer.labels import LabelConfig, Labels, compute_labels
from recap_trainer.rewards import LabelError, RewardConfig
from recap_trainer.training.episodes import open_datasets
from recap_trainer.value_checks import check_values, positive_fraction_by_outcome


def horizon_rows(run: Path, iteration: int, n_steps: list[int]) -> list[dict]:
    """One row per horizon (Monte Carlo, then each n) and rollout source: the threshold, the own
    steps' positive fraction of failed and successful episodes, and whether the check flags it."""
    stored = Labels.load(run / "train" / f"iter_{iteration}" / "labels")
    if stored.info.get("stage") != "finetune":
        raise LabelError(f"{run}/train/iter_{iteration}/labels: stage {stored.info.get('stage')!r}, not a "
                         "fine-tuning iteration (k >= 1)")
    data = [run / "data" / f"rollouts_{k}" for k in range(1, iteration + 1)]
    missing = [str(d) for d in data if not (d / "manifest.json").is_file()]
    if missing:
        raise LabelError(f"no rollout dataset at {', '.join(missing)}")
    catalog = open_datasets(data)
    episodes = [catalog.episode(k) for k in range(len(catalog.summaries))]
    unlabelled = [ep.episode_id for ep in episodes if ep.episode_id not in stored.value and ep.outcome != "abort"]
    if unlabelled:
        raise LabelError(f"{len(unlabelled)} rollout(s) have no stored value, e.g. {unlabelled[0]}")
    rewards = RewardConfig.from_dict(stored.info["rewards"])
    fractions = stored.info["positive_fraction"]
    # The policy's own steps of every labelled (not aborted) rollout, the same for every horizon.
    own = {ep.episode_id: ~np.asarray(ep.intervention, bool) for ep in episodes if ep.outcome != "abort"}
    source_of = {ep.episode_id: data_source(ep) for ep in episodes}
    outcome_of = {ep.episode_id: ep.outcome for ep in episodes}
    rows = []
    for n in [None, *n_steps]:
        config = LabelConfig(stage="finetune", n_step=n, positive_fraction=float(np.mean(list(fractions.values()))),
                             task_positive_fraction=dict(fractions))
        labels = compute_labels(episodes, lambda ep: stored.value[ep.episode_id], rewards, config)
        groups = positive_fraction_by_outcome({eid: labels.indicator[eid] for eid in own}, source_of, outcome_of, own)
        for source in sorted({g.source for g in groups}):
            mine = [g for g in groups if g.source == source]
            by = {g.outcome: g for g in mine}
            report = check_values([], "held-out", by_outcome=mine)
            rows.append({"horizon": "Monte Carlo" if n is None else f"{n}-step", "source": source,
                         "threshold": labels.thresholds,
                         "failed": _cell(by.get("failure")), "successful": _cell(by.get("success")),
                         "check": "flagged" if report.problems else (
                             "not judged (few episodes)" if any(note.startswith("source ") for note in report.notes)
                             else "ok")})
    return rows


def _cell(group) -> str:
    return "-" if group is None else f"{group.positive_fraction:.0%} of {group.steps} ({group.episodes} ep.)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m recap_lab.experiments.label_horizon", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="a `recap-lab loop` work directory")
    p.add_argument("--iteration", type=int, default=1, help="k >= 1: relabel the rollouts V^k labelled (default 1)")
    p.add_argument("--n-step", type=int, nargs="+", default=[50], metavar="N",
                   help="n-step horizons to compare with Monte Carlo (default 50, the paper's fine-tuning N)")
    args = p.parse_args(argv)
    if args.iteration < 1 or any(n < 1 for n in args.n_step):
        p.error(f"--iteration and --n-step must be >= 1, got {args.iteration} and {args.n_step}")
    try:
        rows = horizon_rows(args.run, args.iteration, args.n_step)
    except (LabelError, FileNotFoundError) as error:
        print(f"label_horizon: {error}", file=sys.stderr)
        return 2
    print("| horizon | source | threshold | failed: own steps positive | successful: own steps positive | check |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        threshold = ", ".join(f"{v:.3f}" for v in row["threshold"].values())
        print(f"| {row['horizon']} | {row['source']} | {threshold} | {row['failed']} | {row['successful']} "
              f"| {row['check']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
