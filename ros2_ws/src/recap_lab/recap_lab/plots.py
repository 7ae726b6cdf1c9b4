"""Report figures (PNG, matplotlib Agg): value over time, advantage histogram, method comparison."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from recap_core.output_files import write_bytes_atomic  # noqa: E402
from recap_lab.stats import Estimate  # noqa: E402


@dataclass(frozen=True)
class ValueTrace:
    """V(o_t) along one episode, for the value-over-time figure. Arrays are (T,)."""

    label: str  # e.g. "ep_0012 (failure)"
    timestamps: np.ndarray
    value: np.ndarray
    intervention: np.ndarray  # bool
    returns: np.ndarray | None = None  # normalised empirical return R_t, drawn dashed when given


def plot_value_over_time(traces: Sequence[ValueTrace], path: str | Path, title: str = "") -> Path:
    """One panel per episode: V(o_t) (and R_t), steps under human control shaded."""
    if not traces:
        raise ValueError("plot_value_over_time needs at least one episode")
    figure, axes = plt.subplots(len(traces), 1, figsize=(8, 2.2 * len(traces)), sharex=False, squeeze=False)
    for axis, trace in zip(axes[:, 0], traces):
        t = np.asarray(trace.timestamps) - trace.timestamps[0]
        axis.plot(t, trace.value, color="tab:blue", label="V(o_t)")
        if trace.returns is not None:
            axis.plot(t, trace.returns, color="tab:gray", linestyle="--", label="R_t (empirical)")
        for run, (start, stop) in enumerate(_runs(trace.intervention)):
            axis.axvspan(t[start], t[min(stop, len(t) - 1)], color="tab:orange", alpha=0.25,
                         label="intervention" if run == 0 else None)
        axis.set_ylim(-1.05, 0.05)
        axis.set_ylabel("value")
        axis.set_title(trace.label, fontsize=9)
        axis.legend(loc="lower left", fontsize=7)
    axes[-1, 0].set_xlabel("time since episode start [s]")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_advantage_histogram(advantages: np.ndarray, epsilon: float, path: str | Path,
                             title: str = "") -> Path:
    """Histogram of A_t with the threshold eps_l marked and the positive fraction printed."""
    advantages = np.asarray(advantages, dtype=float)
    if advantages.size == 0:
        raise ValueError("plot_advantage_histogram needs at least one advantage")
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.hist(advantages, bins=80, color="tab:blue", alpha=0.8)
    positive = float(np.mean(advantages > epsilon))
    axis.axvline(epsilon, color="tab:red", linestyle="--",
                 label=f"eps = {epsilon:.4f} ({positive:.0%} of steps positive)")
    axis.set_xlabel("advantage A_t (normalised)")
    axis.set_ylabel("steps")
    axis.legend(fontsize=8)
    axis.set_title(title or "advantage distribution")
    return _save(figure, path)


def plot_method_comparison(methods: Sequence[str], success: Sequence[Estimate],
                           throughput: Sequence[Estimate], path: str | Path, title: str = "") -> Path:
    """Two bar panels (success rate, throughput in successes/hour) with 95 % CI error bars."""
    if not methods or not len(methods) == len(success) == len(throughput):
        raise ValueError("plot_method_comparison needs one success and one throughput estimate per method")
    figure, axes = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(methods)), 3.8))
    for axis, estimates, label in ((axes[0], success, "success rate"),
                                   (axes[1], throughput, "throughput [successes / h sim time]")):
        high = _bars_with_ci(axis, np.arange(len(methods)), estimates, 0.8,
                             [f"C{i}" for i in range(len(methods))], capsize=4)
        axis.set_xticks(range(len(methods)), methods, rotation=25, ha="right", fontsize=8)
        axis.set_ylabel(label)
        axis.set_ylim(bottom=0.0, top=1.0 if axis is axes[0] else max(1.0, float(np.nanmax(high, initial=0)) * 1.1))
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def plot_throughput_by_seed(methods: Sequence[str], seeds: Sequence[int],
                            throughput: Sequence[Sequence[Estimate | None]], path: str | Path, title: str = "") -> Path:
    """Grouped bars: one group per method, one bar per training seed (throughput[seed][method],
    None where that seed has no such row), with 95 % CI error bars."""
    if not methods or not seeds or len(throughput) != len(seeds) or any(len(row) != len(methods) for row in throughput):
        raise ValueError("plot_throughput_by_seed needs one row of estimates per seed, one estimate per method")
    figure, axis = plt.subplots(figsize=(max(8, 1.4 * len(methods)), 3.8))
    width = 0.8 / len(seeds)
    x = np.arange(len(methods))
    for k, (seed, row) in enumerate(zip(seeds, throughput)):
        _bars_with_ci(axis, x - 0.4 + width * (k + 0.5), row, width, f"C{k}", capsize=2, label=f"seed {seed}",
                      linewidth=0.8)
    axis.set_xticks(x, methods, rotation=15, ha="right", fontsize=8)
    axis.set_ylabel("throughput [successes / h sim time]")
    axis.legend(fontsize=8, ncols=len(seeds))
    if title:
        axis.set_title(title)
    return _save(figure, path)


def plot_success_by_bin(labels: Sequence[str], bins: Sequence[str], success: Sequence[Sequence[Estimate]],
                        path: str | Path, xlabel: str, title: str = "") -> Path:
    """Grouped bars: one group per bin of scenes, one bar per policy (success[policy][bin]), with 95 % CI
    error bars; an empty bin (NaN) has no bar."""
    if not labels or not bins or len(success) != len(labels) or any(len(row) != len(bins) for row in success):
        raise ValueError("plot_success_by_bin needs one row of estimates per policy, one estimate per bin")
    figure, axis = plt.subplots(figsize=(max(8, 0.5 * len(bins) * len(labels)), 3.8))
    width = 0.8 / len(labels)
    x = np.arange(len(bins))
    for k, (label, row) in enumerate(zip(labels, success)):
        _bars_with_ci(axis, x - 0.4 + width * (k + 0.5), row, width, f"C{k}", capsize=2, label=label, linewidth=0.8)
    axis.set_xticks(x, bins)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("success rate")
    axis.set_ylim(0.0, 1.0)
    axis.legend(fontsize=7, ncols=min(6, len(labels)), loc="lower center", bbox_to_anchor=(0.5, 1.0))
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def _bars_with_ci(axis: plt.Axes, x: np.ndarray, estimates: Sequence[Estimate | None], width: float, color,
                  capsize: float, label: str | None = None, linewidth: float | None = None) -> np.ndarray:
    """Bars at x with 95 % CI error bars (None or NaN: no bar); returns the upper bounds."""
    values = np.array([e.value if e else np.nan for e in estimates], dtype=float)
    low = np.array([e.low if e else np.nan for e in estimates], dtype=float)
    high = np.array([e.high if e else np.nan for e in estimates], dtype=float)
    errors = np.nan_to_num(np.vstack([values - low, high - values]), nan=0.0)
    axis.bar(x, np.nan_to_num(values), width, color=color, label=label)
    # errorbar with lists: bar(yerr=<2 x N array>) trips a numpy deprecation inside matplotlib
    axis.errorbar(x, np.nan_to_num(values), yerr=[errors[0].tolist(), errors[1].tolist()], fmt="none",
                  ecolor="black", capsize=capsize, linewidth=linewidth)
    return high


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs in a bool array."""
    padded = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _save(figure: plt.Figure, path: str | Path) -> Path:
    """PNG written atomically: a reader (a docs page, a second report) never sees half a figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110)
    plt.close(figure)
    write_bytes_atomic(path, png.getvalue())
    return path
