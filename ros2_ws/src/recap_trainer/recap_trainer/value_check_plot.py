"""The value checks' figure (PNG, matplotlib Agg): ROC curves at the episode points, the reliability
diagram, and V(o_t) of a few scored successes and failures against their realised return."""
from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recap_core.output_files import write_bytes_atomic
from recap_trainer.value_checks import EpisodeValues, ValueCheckReport, roc_curve, values_at

EPISODES_PER_OUTCOME = 3  # curves drawn of each outcome


def plot_value_checks(report: ValueCheckReport, episodes: Sequence[EpisodeValues], path: str | Path,
                      title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(11, 7.5))
    grid = figure.add_gridspec(2, 2, height_ratios=(1, 1))
    _roc_panel(figure.add_subplot(grid[0, 0]), report, episodes)
    _reliability_panel(figure.add_subplot(grid[0, 1]), report)
    _curves_panel(figure.add_subplot(grid[1, :]), episodes)
    figure.suptitle(f"{title + ': ' if title else ''}value checks on {report.population} episodes "
                    f"({report.successes} successes, {report.failures} failures): {report.verdict}", fontsize=10)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    plt.close(figure)
    path = Path(path)
    write_bytes_atomic(path, png.getvalue())
    return path


def _roc_panel(axis, report: ValueCheckReport, episodes: Sequence[EpisodeValues]) -> None:
    axis.plot([0, 1], [0, 1], color="lightgray", linestyle=":", label="chance")
    for k, fraction in enumerate(report.config.fractions):
        point = report.separation[k]
        if point.auc is None:
            continue
        scores, success = values_at(episodes, fraction)
        fpr, tpr = roc_curve(scores, success)
        axis.plot(fpr, tpr, color=f"C{k}", label=f"{point.point}: AUC {point.auc:.2f}")
    axis.set_xlabel("failed episodes rated above the threshold")
    axis.set_ylabel("successful episodes rated above it")
    axis.set_title("ROC of V(o_t), success vs failure, by point of the episode", fontsize=9)
    axis.legend(fontsize=7, loc="lower right")


def _reliability_panel(axis, report: ValueCheckReport) -> None:
    axis.plot([-1, 0], [-1, 0], color="lightgray", linestyle=":", label="calibrated")
    c = report.calibration
    if c is not None and c.bins:
        centres = np.array([b.mean_value for b in c.bins])
        axis.plot(centres, [b.mean_return for b in c.bins], marker="o", color="tab:blue",
                  label=f"mean return per bin of V (gap {c.calibration_error:.3f})")
        for b in c.bins:
            axis.annotate(str(b.steps), (b.mean_value, b.mean_return), fontsize=6, textcoords="offset points",
                          xytext=(3, -8))
    axis.set_xlim(-1.05, 0.05)
    axis.set_ylim(-1.05, 0.05)
    axis.set_xlabel("mean predicted V in the bin")
    axis.set_ylabel("mean realised return R_t")
    axis.set_title("reliability (numbers: steps per bin)", fontsize=9)
    axis.legend(fontsize=7, loc="upper left")


def _curves_panel(axis, episodes: Sequence[EpisodeValues]) -> None:
    for outcome, color in (("success", "tab:blue"), ("failure", "tab:red")):
        chosen = [ep for ep in episodes if ep.outcome == outcome][:EPISODES_PER_OUTCOME]
        for k, ep in enumerate(chosen):
            t = ep.timestamps - ep.timestamps[0]
            axis.plot(t, ep.value, color=color, alpha=0.9, label=f"V(o_t), {outcome}" if k == 0 else None)
            axis.plot(t, ep.returns, color=color, alpha=0.6, linestyle="--",
                      label=f"R_t, {outcome}" if k == 0 else None)
    axis.set_ylim(-1.05, 0.05)
    axis.set_xlabel("time since episode start [s]")
    axis.set_ylabel("normalised value")
    axis.set_title(f"V(o_t) (solid) against the realised return (dashed), up to {EPISODES_PER_OUTCOME} episodes "
                   "of each outcome", fontsize=9)
    axis.legend(fontsize=7, loc="lower left", ncols=2)
